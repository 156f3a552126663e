"""Web demo (Gradio): identity swap, identity x attribute grid and identity interpolation in W.

    python scripts/demo.py --run runs/00000-toy                 # http://127.0.0.1:7860
    python scripts/demo.py --run RUN --host 0.0.0.0 --port 8080  # reachable from the local network

Without --run it serves the shipped toy model (stylegan_weights/toy/run) when that exists.
The model is loaded once, before the server starts. Nothing is fetched from the internet:
Gradio analytics and version checks are off, no share link is made, fonts are Gradio's own.

Every tab takes images (uploaded files, FFHQ-aligned with "Align real photo") or StyleGAN seeds;
bad inputs (unreadable file, no face, not square without alignment, bad seeds) give a one-line
message in the page, never a stack trace. Endpoints for gradio_client:

    from gradio_client import Client, handle_file
    c = Client("http://127.0.0.1:7860/")
    id_in, attr_in, out, status = c.predict(None, 3, None, 10, False, api_name="/swap")
    grid, status = c.predict("0-3", "10-12", api_name="/grid")
    out, status = c.predict(None, 0, None, 1, None, 10, False, 0.5, api_name="/interpolate")

/swap: (identity file, identity seed, attribute file, attribute seed, align) -> (identity input,
attribute input, output, status); a file, when given, is used instead of its seed.
/grid: (identity seeds, attribute seeds), e.g. "0-3" -> (grid, status); the grid is as
combine_grid.py: identities along the top row, attributes down the left column.
/interpolate: (identity A file, A seed, identity B file, B seed, attribute file, attribute seed,
align, t) -> (image, status): G((1 - t) M(A, attr) + t M(B, attr)), as interpolate.py --space w.
Images are PNG, the model's resolution.
"""

import os

# Before gradio / huggingface_hub are imported: no telemetry, no version check, no hub access.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.pop("GRADIO_SHARE", None)

from absl import flags, logging

import idd_tf.cli as cli
from idd_tf.utils.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("run", None, "training run directory (default: the shipped toy run, "
                        "stylegan_weights/toy/run, when it exists)")
    flags.DEFINE_string("checkpoint", None, "a specific checkpoint (default: the run's latest)")
    flags.DEFINE_string("host", "127.0.0.1", "address to listen on (0.0.0.0: every interface)")
    flags.DEFINE_integer("port", None, "port (default: the first free one from 7860)")


MAX_GRID_SEEDS = 16          # per axis of the grid
MAX_SEED = 2 ** 32 - 1       # numpy RandomState's range
TITLE = "idd-tf: face identity disentanglement"
# Small model resolutions (32, 64 px) are shown scaled up to the frame, pixels kept sharp.
CSS = """
.idd-img img { width: 100% !important; height: 100% !important; object-fit: contain;
               image-rendering: pixelated; }
"""


class InputError(UserError, ValueError):
    """A bad request: shown to the user as one line."""


def default_run_dir():
    """The shipped toy run (presets.shipped_run_dir()), or a ValueError saying none is there."""
    from idd_tf.method import presets
    path = presets.shipped_run_dir()
    if not path.is_dir():
        raise InputError(f"no --run given and no shipped toy run at {path}; pass --run RUN "
                         f"(e.g. runs/00000-toy from `python scripts/train.py`)")
    return path


def parse_seed_list(text, what: str) -> list[int]:
    """'0-3,7' -> [0, 1, 2, 3, 7], at most MAX_GRID_SEEDS, each in [0, MAX_SEED]; checked before
    any range is expanded (so '0-999999999' is refused, not allocated)."""
    import re

    from idd_tf.method import data
    text = str(text or "").strip()
    if not text:
        raise InputError(f"{what}: give seeds such as 0-3 or 1,5,9")
    count = 0
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not m:
            raise InputError(f"{what}: {part!r} is not a seed or a range a-b of non-negative integers")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise InputError(f"{what}: empty range {part!r}")
        if hi > MAX_SEED:
            raise InputError(f"{what}: seeds must be at most {MAX_SEED}")
        count += hi - lo + 1
        if count > MAX_GRID_SEEDS:
            raise InputError(f"{what}: at most {MAX_GRID_SEEDS} seeds")
    return data.parse_seeds(re.sub(r"\s+", "", text))


def _seed(value, what: str) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InputError(f"{what}: upload an image or give a seed")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what}: seed {value!r} is not a number") from None
    if f != int(f) or not 0 <= f <= MAX_SEED:
        raise InputError(f"{what}: seed must be an integer in 0..{MAX_SEED}, got {value}")
    return int(f)


def _file_path(upload):
    """The path of a gr.File value (str, FileData-like dict or object with .path / .name)."""
    if upload is None or upload == "":
        return None
    if isinstance(upload, (list, tuple)):
        upload = upload[0] if upload else None
        return _file_path(upload)
    if isinstance(upload, dict):
        return upload.get("path") or upload.get("name")
    return getattr(upload, "path", None) or getattr(upload, "name", None) or str(upload)


class Demo:
    """The loaded model and the three operations, independent of Gradio (uint8 HWC in and out)."""

    def __init__(self, run_dir, checkpoint=None):
        import threading

        from idd_tf.method import model
        run = model.load_run(run_dir, checkpoint)
        self.run_dir, self.checkpoint = run_dir, run["checkpoint"]
        self.net, self.G, self.cfg = run["model"], run["stylegan"], run["config"]
        self.resolution = self.G.resolution
        self._lock = threading.Lock()   # one model call at a time (Gradio runs events in threads)

    # -- inputs ---------------------------------------------------------------------------
    def face(self, upload, seed, align: bool, what: str):
        """(HWC uint8 at the model's resolution, description) from an uploaded file (preferred)
        or a StyleGAN seed (the run's truncation)."""
        from pathlib import Path

        from idd_tf.method import data, faces
        from idd_tf.stylegan import networks as stylegan
        path = _file_path(upload)
        if path:
            name = Path(path).name
            try:
                img = data.prepare_face(path, self.resolution, bool(align))
            except (ValueError, FileNotFoundError, faces.NoFaceError) as e:
                msg = str(e).replace(str(path), name).replace("use --align", "tick 'Align real photo'")
                raise InputError(f"{what}: {msg}") from None
            return img, f"{what}: {name}" + (" (aligned)" if align else "")
        s = _seed(seed, what)
        with self._lock:
            raw = stylegan.seed_images(self.G, [s], self.cfg.truncation_psi, self.cfg.truncation_cutoff)
        return stylegan.to_uint8(raw).numpy()[0], f"{what}: seed {s}"

    def seed_faces(self, seeds):
        from idd_tf.stylegan import networks as stylegan
        with self._lock:
            raw = stylegan.seed_images(self.G, seeds, self.cfg.truncation_psi, self.cfg.truncation_cutoff)
        return stylegan.to_uint8(raw).numpy()

    # -- operations -----------------------------------------------------------------------
    def swap(self, id_img, attr_img):
        """G(M(E_id(id), E_attr(attr))) as HWC uint8."""
        from idd_tf.stylegan import networks as stylegan
        with self._lock:
            out = self.net(stylegan.from_uint8(id_img[None]), stylegan.from_uint8(attr_img[None]))["images"]
        return stylegan.to_uint8(out).numpy()[0]

    def grid(self, ids, attrs):
        """combine_grid.py's layout (model.swap_grid): identities along the top row, attributes
        down the left column."""
        from idd_tf.method import model
        with self._lock:
            return model.swap_grid(self.net, ids, attrs)

    def interpolate(self, id_a, id_b, attr, t: float):
        """Identity from A (t=0) to B (t=1) with the attributes of `attr`, in W
        (model.interpolate, vary=id, space=w, as interpolate.py --space w)."""
        import numpy as np

        from idd_tf.method import model
        from idd_tf.stylegan import networks as stylegan
        ids = stylegan.from_uint8(np.stack([id_a, id_b]))
        attrs = stylegan.from_uint8(np.stack([attr, attr]))
        with self._lock:
            out = model.interpolate(self.net, ids, attrs, "id", "w", [float(t)])
        return stylegan.to_uint8(out).numpy()[0]


def _guarded(fn):
    """Run a handler; a bad input becomes gr.Error(one line); anything else is logged on the
    server with its traceback and shown in the page as one line."""
    import functools

    import gradio as gr

    @functools.wraps(fn)
    def wrapper(*args):
        from idd_tf.method import faces
        try:
            return fn(*args)
        except (InputError, faces.NoFaceError) as e:
            logging.warning("request refused: %s", e)
            raise gr.Error(str(e), print_exception=False) from None
        except gr.Error:
            raise
        except Exception as e:  # noqa: BLE001 - the page gets one line, the log the traceback
            logging.exception("request failed")
            raise gr.Error(f"internal error ({type(e).__name__}): {str(e)[:300]}",
                           print_exception=False) from None
    return wrapper


def build_app(demo: Demo):
    """The Gradio Blocks app around a loaded Demo."""
    import gradio as gr

    r = demo.resolution

    def image(label, **kw):
        return gr.Image(label=label, type="numpy", format="png", interactive=False, height=256,
                        buttons=["download", "fullscreen"], elem_classes=["idd-img"], **kw)

    def source(label, seed):
        with gr.Group():
            f = gr.File(label=f"{label} image (optional; else the seed)", file_types=["image"],
                        type="filepath", height=140)
            s = gr.Number(label=f"{label} seed", value=seed, precision=0)
        return f, s

    def swap(id_file, id_seed, attr_file, attr_seed, align):
        id_img, id_what = demo.face(id_file, id_seed, align, "identity")
        attr_img, attr_what = demo.face(attr_file, attr_seed, align, "attributes")
        return id_img, attr_img, demo.swap(id_img, attr_img), f"{id_what}; {attr_what}"

    def grid(id_seeds, attr_seeds):
        ids = parse_seed_list(id_seeds, "identity seeds")
        attrs = parse_seed_list(attr_seeds, "attribute seeds")
        out = demo.grid(demo.seed_faces(ids), demo.seed_faces(attrs))
        return out, f"{len(ids)} identities (top row) x {len(attrs)} attributes (left column)"

    def interpolate(a_file, a_seed, b_file, b_seed, attr_file, attr_seed, align, t):
        try:
            t = float(t)
        except (TypeError, ValueError):
            raise InputError(f"t must be a number in [0, 1], got {t!r}") from None
        if not 0.0 <= t <= 1.0:
            raise InputError(f"t must be in [0, 1], got {t}")
        a, a_what = demo.face(a_file, a_seed, align, "identity A")
        b, b_what = demo.face(b_file, b_seed, align, "identity B")
        attr, attr_what = demo.face(attr_file, attr_seed, align, "attributes")
        return demo.interpolate(a, b, attr, t), f"t = {t:.2f}: {a_what} -> {b_what}; {attr_what}"

    example = swap(None, 0, None, 1, False)   # shown until the first request (also warms up)
    info = (f"Run `{demo.run_dir}`, checkpoint `{os.path.basename(demo.checkpoint)}`, "
            f"{r} x {r} px. Upload face images (square and FFHQ-framed, or tick *Align real photo*) "
            f"or use StyleGAN seeds.")
    with gr.Blocks(title=TITLE, analytics_enabled=False) as blocks:
        gr.Markdown(f"## {TITLE}\n{info}")
        with gr.Tab("Swap"):
            with gr.Row():
                with gr.Column():
                    id_file, id_seed = source("Identity", 0)
                with gr.Column():
                    attr_file, attr_seed = source("Attributes", 1)
            with gr.Row():
                align = gr.Checkbox(label="Align real photo (FFHQ: face detection + landmarks)", value=False)
                go = gr.Button("Swap", variant="primary")
            with gr.Row():
                id_in, attr_in, out = (image(label, value=v) for label, v in
                                       zip(("Identity input", "Attribute input", "Output"), example))
            status = gr.Textbox(label="Status", value=f"example: {example[3]}", interactive=False)
            go.click(_guarded(swap), [id_file, id_seed, attr_file, attr_seed, align],
                     [id_in, attr_in, out, status], api_name="swap")
        with gr.Tab("Grid"):
            with gr.Row():
                g_ids = gr.Textbox(label=f"Identity seeds (top row, at most {MAX_GRID_SEEDS})", value="0-3")
                g_attrs = gr.Textbox(label=f"Attribute seeds (left column, at most {MAX_GRID_SEEDS})", value="10-12")
                g_go = gr.Button("Make grid", variant="primary")
            g_out = gr.Image(label="Grid", type="numpy", format="png", interactive=False, height=480,
                             buttons=["download", "fullscreen"], elem_classes=["idd-img"])
            g_status = gr.Textbox(label="Status", interactive=False)
            g_go.click(_guarded(grid), [g_ids, g_attrs], [g_out, g_status], api_name="grid")
        with gr.Tab("Interpolate"):
            with gr.Row():
                with gr.Column():
                    a_file, a_seed = source("Identity A", 0)
                with gr.Column():
                    b_file, b_seed = source("Identity B", 1)
                with gr.Column():
                    i_attr_file, i_attr_seed = source("Attributes", 2)
            with gr.Row():
                i_align = gr.Checkbox(label="Align real photo", value=False)
                t = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="t (0: identity A, 1: identity B)")
                i_go = gr.Button("Interpolate", variant="primary")
            i_out = image("Interpolated (in W)")
            i_status = gr.Textbox(label="Status", interactive=False)
            gr.on([i_go.click, t.release], _guarded(interpolate),
                  [a_file, a_seed, b_file, b_seed, i_attr_file, i_attr_seed, i_align, t],
                  [i_out, i_status], api_name="interpolate")
    return blocks


def app_main(argv):
    del argv
    import logging as std_logging
    import signal
    import threading

    for name in ("httpx", "httpcore", "uvicorn.access"):   # no line per HTTP request
        std_logging.getLogger(name).setLevel(std_logging.WARNING)
    try:
        run_dir = FLAGS.run or default_run_dir()
        demo = Demo(run_dir, FLAGS.checkpoint)
        blocks = build_app(demo)   # runs one example swap: the model is ready before the server
    except ValueError as e:   # StyleGANFormatError and NoFaceError are UserErrors already
        raise UserError(e) from e
    blocks.queue(default_concurrency_limit=1)
    try:
        _, local_url, _ = blocks.launch(server_name=FLAGS.host, server_port=FLAGS.port, share=False,
                                        inbrowser=False, prevent_thread_lock=True, quiet=True,
                                        show_error=True, ssr_mode=False, css=CSS)
    except OSError as e:
        raise UserError(f"cannot start the server on {FLAGS.host}:{FLAGS.port}: {e}") from e
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"idd-tf demo of {run_dir} ({os.path.basename(demo.checkpoint)}) running on local URL: "
          f"{local_url}  (Ctrl+C to stop)", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        blocks.close()
        print("idd-tf demo stopped", flush=True)


def main(argv=None):
    """`idd-demo` and `python scripts/demo.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
