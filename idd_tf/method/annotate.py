"""Pictures that explain themselves: identity and landmark scores drawn under the images.

`scripts/combine_grid.py --annotate` captions every output cell of an identity x attribute grid
(`model.swap_grid`) with two numbers, and `scripts/evaluate.py` draws the best and worst pairs
of an evaluation as a contact sheet (`best_worst.png`). The numbers come from a scorer:

- `ToyScorer`: the toy world's independent evaluator (toy-world runs): cosine of its identity
  embeddings, I_out vs I_id; mean L2 of its 68 landmarks, I_out vs I_attr, / image side;
- `FaceScorer`: dlib's face-recognition descriptor (or a user's ArcFace network) for identity and
  dlib's 68 landmarks (MTCNN faces, as `protocol.evaluate`); "no face" where none is found.

Everything here returns arrays (uint8 HWC images, float score arrays); scripts write the files.
Text uses Pillow's built-in default font (no font files, no downloads); images below
`MIN_CELL` px are first enlarged (nearest neighbour) so that captions stay legible.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

MIN_CELL = 128          # captioned pictures enlarge smaller cells to at least this many pixels
PAD = 3                 # pixels around text
INK, PAPER, MUTED = (0, 0, 0), (255, 255, 255), (90, 90, 90)

# ----------------------------------------------------------------------------------------------
# Scorers: (I_id, I_attr, I_out) uint8 [N, R, R, 3] each -> per-pair arrays.


def legend(kind: str, arcface_name: str | None = None, no_face: bool = True) -> list[str]:
    """What the two caption numbers mean, for scorer `kind` ("toy" or "face"; `no_face`: with
    the line on "no face" captions)."""
    if kind == "toy":
        return ["scorer: the toy world's independent evaluator (stylegan_weights/toy, never trained against)",
                "id = cosine of the evaluator's identity embeddings, I_out vs I_id (1 = same person; higher is better)",
                "lnd = mean L2 of the evaluator's 68 landmarks, I_out vs I_attr, / image side (lower is better)"]
    ident = (f"ArcFace ({arcface_name}) embeddings" if arcface_name
             else "dlib face-recognition descriptors")
    scorer = "ArcFace" if arcface_name else "dlib"
    return [f"scorer: {scorer} identity, dlib 68 landmarks (MTCNN faces, as evaluate.py)",
            f"id = cosine of {ident}, I_out vs I_id (1 = same; higher is better)",
            "lnd = mean L2 of dlib's 68 landmarks, I_out vs I_attr, / image side (lower is better)",
            *(["no face = MTCNN found no face in I_out (or in the input named)"] if no_face else [])]


class FaceScorer:
    """Scores by face networks independent of training: identity = cosine of dlib descriptors
    (or of `arcface` embeddings, a `metrics.ArcFace`), landmarks = `metrics.landmark_distance` of
    dlib's 68 points / resolution, each face found once by MTCNN (`metrics.face_info`; an image
    seen twice is detected once). Where a face is missing the score is NaN and the note says
    which: "no face" (I_out), "no face in I_id", "no face in I_attr"."""

    kind = "face"

    def __init__(self, arcface=None, arcface_name: str | None = None):
        self.arcface = arcface
        self.arcface_name = arcface_name if arcface is not None else None
        self.name = f"ArcFace ({self.arcface_name}) + dlib landmarks" if arcface is not None else "dlib"
        self._cache = {}

    def legend(self) -> list[str]:
        return legend("face", self.arcface_name)

    def info(self, image_u8):
        """metrics.face_info of an image (+ "arcface" embedding), None without a face; cached."""
        from idd_tf.method import faces, metrics
        image_u8 = np.ascontiguousarray(image_u8)
        key = (image_u8.shape, hashlib.sha1(image_u8.tobytes()).hexdigest())
        if key not in self._cache:
            try:
                info = metrics.face_info(image_u8)
                if self.arcface is not None:
                    info["arcface"] = self.arcface.embed(image_u8, info["detection"])
            except faces.NoFaceError:
                info = None
            self._cache[key] = info
        return self._cache[key]

    def score(self, id_u8, attr_u8, out_u8) -> dict:
        """{"identity": [N], "landmarks": [N] (NaN where a face is missing), "note": [N] str}."""
        from idd_tf.method import metrics
        n = len(out_u8)
        ident, lnd, note = np.full(n, np.nan), np.full(n, np.nan), np.full(n, "", object)
        for i in range(n):
            fi, fa, fo = self.info(id_u8[i]), self.info(attr_u8[i]), self.info(out_u8[i])
            if fo is None:
                note[i] = "no face"
                continue
            if fi is None:
                note[i] = "no face in I_id"
            elif self.arcface is not None:
                ident[i] = float(fi["arcface"] @ fo["arcface"])
            else:
                ident[i] = metrics.cosine(fi["descriptor"], fo["descriptor"])
            if fa is None:
                note[i] = "no face in I_attr"
            else:
                lnd[i] = metrics.landmark_distance(fa["landmarks"], fo["landmarks"], out_u8[i].shape[0])
        return {"identity": ident, "landmarks": lnd, "note": note}


def scorer_for(config, arcface: str | None = None, evaluator_dir: str | None = None):
    """The scorer for a run: the one registered for its E_id architecture (method/registry.py
    "scorers"; the toy world's evaluator for `id_encoder.arch="toy"`, from `evaluator_dir` or its
    shipped folder), else `FaceScorer` with ArcFace when `arcface` (a network file) is given, dlib
    otherwise. Missing files raise FileNotFoundError; `arcface` with a registered scorer is a ValueError."""
    from idd_tf.method import metrics, registry
    make = registry.get("scorers", config.id_encoder.arch)
    if make is not None:
        if arcface:
            raise ValueError(f"a {config.id_encoder.arch!r} run is scored by its own evaluator: "
                             "--arcface does not apply")
        return make(evaluator_dir)
    if arcface:
        from pathlib import Path
        return FaceScorer(metrics.ArcFace(arcface), Path(arcface).name)
    return FaceScorer()


def caption(identity: float, landmarks: float, note: str = "") -> list[str]:
    """The two caption lines of one output: "id 0.873" and "lnd 0.0342", or what is missing."""
    if note == "no face":
        return ["no face", ""]
    id_line = f"id {identity:.3f}" if np.isfinite(identity) else "id: -"
    lnd_line = f"lnd {landmarks:.4f}" if np.isfinite(landmarks) else "lnd: -"
    if note:
        return [id_line if np.isfinite(identity) else f"id: {note}",
                lnd_line if np.isfinite(landmarks) else f"lnd: {note}"]
    return [id_line, lnd_line]


# ----------------------------------------------------------------------------------------------
# Drawing.

def _font(size: int):
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)   # Pillow >= 10.1: its built-in scalable font
    except TypeError:
        return ImageFont.load_default()            # older Pillow: the fixed bitmap font


def font_size(cell: int) -> int:
    """Text height for cells of `cell` px (after enlarging): 12 px at 128, in proportion above."""
    return int(min(40, max(12, round(cell / 10.5))))


def scale_factor(resolution: int) -> int:
    """The integer enlargement that brings `resolution` px cells to at least MIN_CELL px."""
    return max(1, math.ceil(MIN_CELL / resolution))


def upscale(image_u8, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement by an integer factor (pixels stay sharp squares)."""
    image_u8 = np.asarray(image_u8)
    return image_u8 if factor == 1 else np.repeat(np.repeat(image_u8, factor, axis=0), factor, axis=1)


def _line_height(font) -> int:
    from PIL import Image, ImageDraw
    box = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), "Ag|", font=font)
    return box[3] + 2


def _fit(text: str, font, width: int) -> str:
    """`text`, shortened with ".." until it fits in `width` px."""
    if not text or font.getlength(text) <= width:
        return text
    while len(text) > 1 and font.getlength(text + "..") > width:
        text = text[:-1]
    return text + ".."


def _wrap(text: str, font, width: int) -> list[str]:
    """Greedy word wrap to `width` px (an over-long word is shortened)."""
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if line and font.getlength(trial) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    return [_fit(x, font, width) for x in lines + [line]]


def text_strip(width: int, lines_per_cell, cell: int, font, offset: int = 0, color=INK) -> np.ndarray:
    """A white strip `width` px wide with text blocks: `lines_per_cell[c]` (a list of lines) drawn
    from x = offset + c * cell, each line shortened to fit its cell."""
    from PIL import Image, ImageDraw
    lh = _line_height(font)
    rows = max((len(lines) for lines in lines_per_cell), default=0)
    img = Image.new("RGB", (width, rows * lh + 2 * PAD), PAPER)
    draw = ImageDraw.Draw(img)
    for c, lines in enumerate(lines_per_cell):
        for k, line in enumerate(lines):
            draw.text((offset + c * cell + PAD, PAD + k * lh), _fit(line, font, cell - 2 * PAD),
                      fill=color, font=font)
    return np.array(img)


def legend_strip(width: int, lines: list[str], font) -> np.ndarray:
    """A white strip with `lines` word-wrapped to `width` px, under a thin grey rule."""
    wrapped = [w for line in lines for w in _wrap(line, font, width - 2 * PAD)]
    strip = text_strip(width, [wrapped], width, font, color=MUTED)
    strip[0] = (200, 200, 200)
    return strip


# ----------------------------------------------------------------------------------------------
# The grid (combine_grid.py --annotate).

def grid_cells(grid_u8, resolution: int) -> dict:
    """The tiles of a `model.swap_grid` grid: {"id": [I, R, R, 3] (top row), "attr": [A, R, R, 3]
    (left column), "out": [A, I, R, R, 3] (cell (i, j): identity j, attributes i)}."""
    r = resolution
    grid_u8 = np.asarray(grid_u8)
    rows, cols = grid_u8.shape[0] // r, grid_u8.shape[1] // r
    if grid_u8.shape[:2] != (rows * r, cols * r) or rows < 2 or cols < 2:
        raise ValueError(f"not a swap_grid of {r} px tiles: {grid_u8.shape}")
    tiles = grid_u8.reshape(rows, r, cols, r, 3).transpose(0, 2, 1, 3, 4)
    return {"id": tiles[0, 1:], "attr": tiles[1:, 0], "out": tiles[1:, 1:]}


def score_grid(scorer, grid_u8, resolution: int) -> dict:
    """Scores of every output cell of a swap_grid: {"identity", "landmarks", "note"}: [A, I]
    (cell (i, j) against identity image j and attribute image i)."""
    t = grid_cells(grid_u8, resolution)
    a, n = t["out"].shape[:2]
    s = scorer.score(np.tile(t["id"], (a, 1, 1, 1)), np.repeat(t["attr"], n, axis=0),
                     t["out"].reshape(a * n, *t["out"].shape[2:]))
    return {k: np.asarray(v).reshape(a, n) for k, v in s.items()}


def annotate_grid(grid_u8, resolution: int, scores: dict, legend_lines: list[str],
                  id_names=None, attr_names=None) -> np.ndarray:
    """The grid with a caption strip under every row and a legend strip at the bottom.

    Enlarged by `scale_factor(resolution)` first (nearest neighbour). Under the top row: the
    identity images' names ("I_id: seed0"); under each attribute row: its name in the left column
    and `caption(...)` of every cell (scores from `score_grid`). The empty top-left tile says
    how to read the grid. Returns HWC uint8, taller (and, below MIN_CELL px, larger) than the grid.
    """
    t = grid_cells(grid_u8, resolution)
    n_attr, n_id = t["out"].shape[:2]
    f = scale_factor(resolution)
    cell = resolution * f
    big = upscale(grid_u8, f).copy()
    font = _font(font_size(cell))
    width = big.shape[1]
    id_names = list(id_names) if id_names is not None else [str(j) for j in range(n_id)]
    attr_names = list(attr_names) if attr_names is not None else [str(i) for i in range(n_attr)]
    corner = text_strip(cell, [["cols: I_id", "rows: I_attr", "cells: I_out", "(id + attr)"]], cell, font, color=MUTED)
    big[:min(cell, corner.shape[0]), :cell] = corner[:cell]
    parts = [big[:cell], text_strip(width, [[""]] + [[f"I_id: {x}"] for x in id_names], cell, font, color=MUTED)]
    for i in range(n_attr):
        parts.append(big[(i + 1) * cell:(i + 2) * cell])
        cells = [[f"I_attr: {attr_names[i]}"]]
        cells += [caption(scores["identity"][i, j], scores["landmarks"][i, j], scores["note"][i, j])
                  for j in range(n_id)]
        parts.append(text_strip(width, cells, cell, font))
    parts.append(legend_strip(width, ["cell (i, j) = the identity of column j (top row, I_id) with the "
                                      "attributes of row i (left column, I_attr)", *legend_lines], font))
    return np.concatenate(parts, axis=0)


# ----------------------------------------------------------------------------------------------
# Best and worst pairs (evaluate.py's best_worst.png).

def best_worst(identity, landmarks, k: int = 4) -> dict:
    """Indices of the k best and k worst pairs by identity (higher is better) and by landmark
    error (lower is better), NaNs left out; ties keep pair order (stable), so a pair outside the
    k extremes of a prefix of the pairs never enters them later. {"best identity", "worst
    identity", "best landmarks", "worst landmarks"}: int arrays, best (or worst) first."""
    out = {}
    for name, values, sign in (("identity", identity, -1.0), ("landmarks", landmarks, 1.0)):
        v = np.asarray(values, np.float64)
        ok = np.flatnonzero(np.isfinite(v))
        order = ok[np.argsort(sign * v[ok], kind="stable")]
        worst = ok[np.argsort(-sign * v[ok], kind="stable")]
        out[f"best {name}"], out[f"worst {name}"] = order[:k], worst[:k]
    return out


def pair_tile(id_u8, attr_u8, out_u8, lines: list[str], factor: int, font) -> np.ndarray:
    """I_id | I_attr | I_out side by side (enlarged by `factor`), names under each image, then
    `lines` (e.g. the pair and its numbers) across the three."""
    row = np.concatenate([upscale(x, factor) for x in (id_u8, attr_u8, out_u8)], axis=1)
    cell = row.shape[0]
    names = text_strip(row.shape[1], [["I_id"], ["I_attr"], ["I_out"]], cell, font, color=MUTED)
    return np.concatenate([row, names, text_strip(row.shape[1], [lines], row.shape[1], font)], axis=0)


def contact_sheet(sections, legend_lines: list[str], resolution: int, title: str = "") -> np.ndarray:
    """Rows of pair tiles under headings. `sections`: [(heading, [(id_u8, attr_u8, out_u8,
    caption lines)])]; each pair becomes a `pair_tile`, tiles of a section side by side.
    Returns HWC uint8 with the title on top and the legend at the bottom."""
    f = scale_factor(resolution)
    font = _font(font_size(resolution * f))
    gap = max(4, resolution * f // 16)
    rows = []
    for heading, pairs in sections:
        tiles = [pair_tile(*p[:3], p[3], f, font) for p in pairs]
        if not tiles:
            continue
        h = max(t.shape[0] for t in tiles)
        tiles = [np.pad(t, ((0, h - t.shape[0]), (0, gap), (0, 0)), constant_values=255) for t in tiles]
        rows.append((heading, np.concatenate(tiles, axis=1)))
    width = max([r.shape[1] for _, r in rows] + [3 * resolution * f])
    parts = [text_strip(width, [[title]], width, font)] if title else []
    for heading, row in rows:
        parts += [text_strip(width, [[heading]], width, font),
                  np.pad(row, ((0, gap), (0, width - row.shape[1]), (0, 0)), constant_values=255)]
    parts.append(legend_strip(width, legend_lines, font))
    return np.concatenate(parts, axis=0)


def best_worst_sheet(pair_images, identity, landmarks, legend_lines: list[str], resolution: int,
                     k: int = 4, labels=None, title: str = "", extra=None) -> np.ndarray:
    """The contact sheet of the k best and k worst pairs by identity and by landmarks
    (`best_worst`), each as I_id | I_attr | I_out with its label (default "pair <index>") and
    numbers. `pair_images(i) -> (id_u8, attr_u8, out_u8)` of pair i (called for the picked pairs
    only); `extra[i]`: a third caption line for pair i (e.g. more scores)."""
    identity, landmarks = np.asarray(identity, np.float64), np.asarray(landmarks, np.float64)
    sections = []
    for name, idx in best_worst(identity, landmarks, k).items():
        scored = int(np.isfinite(identity if name.endswith("identity") else landmarks).sum())
        pairs = []
        for i in idx:
            label = labels[i] if labels is not None else f"pair {i}"
            lines = [str(label), "  ".join(x for x in caption(identity[i], landmarks[i]) if x)]
            if extra is not None and extra[i]:
                lines.append(str(extra[i]))
            pairs.append((*pair_images(int(i)), lines))
        better = "higher" if name.endswith("identity") else "lower"
        sections.append((f"{name}: {len(idx)} of {scored} scored pairs ({better} is better)", pairs))
    note = [] if np.isfinite(identity).any() or np.isfinite(landmarks).any() else \
        ["no pair could be scored (no face found in I_id, I_attr or I_out of any pair)"]
    lines = note + ["each pair: I_id | I_attr | I_out (the model's output for the two)", *legend_lines]
    return contact_sheet(sections, lines, resolution, title)
