"""The README's pictures of the toy world itself (renders only: no network involved).

    python scripts/toy_pictures.py --out docs --overwrite     # docs/toy_contact_sheet.png, docs/toy_landmarks.png

toy_contact_sheet.png: 8 people (rows) x 8 attribute states (columns; the first neutral) at 64 px.
toy_landmarks.png: 4 people at 256 px with their 68 ground-truth landmarks (jaw red, the 51 inner
points the method's landmark loss uses green). Deterministic: the same pictures for the same world.
"""

import sys
from pathlib import Path

from absl import flags

import idd_tf.cli as cli
from idd_tf.utils.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("out", "docs", "directory for the two PNGs")
    flags.DEFINE_bool("overwrite", False, "replace existing PNGs")
    flags.DEFINE_integer("seed", 0,
                         "people are toyworld.identity_from_seed(seed + i), states attributes_from_seed(...)")


SHEET, LANDMARKS = "toy_contact_sheet.png", "toy_landmarks.png"


def contact_sheet(seed):
    from idd_tf.toy import world as toyworld
    people = [toyworld.identity_from_seed(seed + i) for i in range(8)]
    states = [dict(toyworld.NEUTRAL_ATTRIBUTES)] + [toyworld.attributes_from_seed(seed + 1000 + j) for j in range(7)]
    return toyworld.contact_sheet(people, states, resolution=64)


def landmark_strip(seed, resolution=256):
    import cv2
    import numpy as np

    from idd_tf.toy import world as toyworld
    cells = []
    for i in range(4):
        ex = toyworld.person_example(seed + i, 0, seed=seed + 2000, resolution=resolution)
        im = np.ascontiguousarray(ex["image"])
        for k, (x, y) in enumerate(ex["landmarks"]):
            colour = (255, 40, 40) if k < 17 else (40, 255, 40)
            cv2.drawMarker(im, (int(round(x)), int(round(y))), colour, cv2.MARKER_TILTED_CROSS, 5, 1, cv2.LINE_AA)
        cells.append(im)
    return np.concatenate(cells, 1)


def app_main(argv):
    del argv
    import cv2

    from idd_tf.utils.fileio import atomic_write_bytes
    out = Path(FLAGS.out)
    targets = {out / SHEET: contact_sheet, out / LANDMARKS: landmark_strip}
    existing = [str(p) for p in targets if p.exists()]
    if existing and not FLAGS.overwrite:
        raise UserError(f"{', '.join(existing)} exist(s): pass --overwrite to replace")
    out.mkdir(parents=True, exist_ok=True)
    for path, make in targets.items():
        ok, png = cv2.imencode(".png", make(FLAGS.seed)[..., ::-1])
        if not ok:
            sys.exit(f"could not encode {path}")
        atomic_write_bytes(path, png.tobytes())
        print(path)


def main(argv=None):
    """`idd-toy-pictures` and `python scripts/toy_pictures.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
