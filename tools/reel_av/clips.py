"""Synthetic audio-visual clips: coloured shapes that move or stand still, and a soundtrack of beeps.

A clip is a `Scene` (plain data, JSON-serialisable) drawn from a seeded generator. The frames carry the shapes, their
colours and their motion; the soundtrack carries what the frames do not: the number of beeps (1-4) and whether their
tone is high or low. `write_clip` renders a scene to an H.264 + AAC mp4 with ffmpeg; `questions_for` lists every
question the scene answers, in three categories: "seen", "heard" and "both".
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import wave
from dataclasses import asdict, dataclass, field

import numpy as np

SIZE = 64            # frame width and height, pixels
FPS = 8              # video frame rate
SECONDS = 4.0        # clip length
SAMPLE_RATE = 16000  # audio sample rate written into the AAC track

COLOURS = {
    "red": (220, 40, 40), "green": (40, 190, 60), "blue": (50, 90, 235),
    "yellow": (235, 215, 40), "white": (240, 240, 240),
}
SHAPES = ("circle", "square", "triangle")
DIRECTIONS = ("left", "right", "up", "down", "still")
BACKGROUNDS = ((20, 20, 20), (45, 45, 50), (30, 40, 60), (60, 45, 35))
TRAVEL = 30.0        # pixels a moving shape travels over the clip
TRAIL = ((0.4, 0.55), (0.8, 0.35), (1.2, 0.18))   # a moving shape's trail: (seconds back, opacity)
MC_SUFFIX = "Answer with the option's letter from the given choices directly."


@dataclass
class Thing:
    shape: str
    colour: str
    direction: str
    radius: float
    x0: float
    y0: float

    def position(self, t: float) -> tuple[float, float]:
        """Centre at time t seconds."""
        f = t / SECONDS * TRAVEL
        dx, dy = {"left": (-f, 0), "right": (f, 0), "up": (0, -f), "down": (0, f), "still": (0, 0)}[self.direction]
        return self.x0 + dx, self.y0 + dy


@dataclass
class Scene:
    seed: int
    background: tuple
    things: list = field(default_factory=list)
    beeps: int = 1
    tone: str = "low"          # "high" or "low"
    frequency: float = 440.0   # Hz
    beep_start: float = 0.2    # s, first beep onset
    beep_gap: float = 0.8      # s, onset to onset
    beep_length: float = 0.2   # s

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(d: dict) -> "Scene":
        d = dict(d)
        d["things"] = [Thing(**t) for t in d["things"]]
        d["background"] = tuple(d["background"])
        return Scene(**d)


def _start(rng, direction: str, r: float) -> tuple[float, float]:
    lo, hi = r + 2, SIZE - r - 2
    x, y = rng.uniform(lo, hi), rng.uniform(lo, hi)
    if direction == "left":
        x = rng.uniform(lo + TRAVEL, hi)
    elif direction == "right":
        x = rng.uniform(lo, hi - TRAVEL)
    elif direction == "up":
        y = rng.uniform(lo + TRAVEL, hi)
    elif direction == "down":
        y = rng.uniform(lo, hi - TRAVEL)
    return x, y


def _apart(things, times) -> bool:
    for t in times:
        for i in range(len(things)):
            for j in range(i + 1, len(things)):
                (xa, ya), (xb, yb) = things[i].position(t), things[j].position(t)
                if np.hypot(xa - xb, ya - yb) < things[i].radius + things[j].radius + 3:
                    return False
    return True


def sample_scene(seed: int) -> Scene:
    """A scene drawn from `seed` alone (numpy PCG64), so a clip set is reproducible item by item."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3))
    times = [i / FPS for i in range(int(SECONDS * FPS))]
    while True:
        colours = rng.choice(list(COLOURS), size=n, replace=False)
        directions = rng.choice(DIRECTIONS, size=n, replace=False)
        things = []
        for c, d in zip(colours, directions):
            r = float(rng.uniform(7.0, 9.5))
            x, y = _start(rng, str(d), r)
            things.append(Thing(str(rng.choice(SHAPES)), str(c), str(d), r, float(x), float(y)))
        if _apart(things, times):
            break
    beeps = int(rng.integers(1, 5))
    tone = str(rng.choice(["high", "low"]))
    freq = float(rng.uniform(1300, 2000) if tone == "high" else rng.uniform(250, 450))
    return Scene(seed=seed, background=tuple(int(v) for v in BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]),
                 things=things, beeps=beeps, tone=tone, frequency=freq,
                 beep_start=float(rng.uniform(0.1, 0.4)), beep_gap=float(rng.uniform(0.65, 0.95)),
                 beep_length=float(rng.uniform(0.15, 0.25)))


# ---------------------------------------------------------------------------------------------------------- rendering

def shape_mask(th: Thing, t: float) -> np.ndarray:
    """bool [SIZE, SIZE]: the pixels `th` covers at time t seconds (pixel centres inside the shape)."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
    cx, cy = th.position(t)
    r = th.radius
    if th.shape == "circle":
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    if th.shape == "square":
        s = r * 0.85
        return (np.abs(xx - cx) <= s) & (np.abs(yy - cy) <= s)
    # triangle pointing up: apex at (cx, cy - r), base at y = cy + 0.8 r
    top, base = cy - r, cy + 0.8 * r
    half = (yy - top) / (base - top) * r
    return (yy >= top) & (yy <= base) & (np.abs(xx - cx) <= half)


def trail_mask(th: Thing, t: float) -> np.ndarray:
    """bool [SIZE, SIZE]: the pixels of a moving shape's trail at time t (none when it stands still)."""
    m = np.zeros((SIZE, SIZE), bool)
    if th.direction != "still":
        for dt, _ in TRAIL:
            m |= shape_mask(th, t - dt)
    return m


def render_frames(scene: Scene) -> np.ndarray:
    """uint8 [T, SIZE, SIZE, 3] RGB frames; frame i shows time i / FPS. A moving shape leaves a fading trail (TRAIL:
    where it was dt seconds earlier, blended over what is there), so one frame shows which way it goes; the shapes
    themselves are drawn last."""
    n = int(SECONDS * FPS)
    out = np.empty((n, SIZE, SIZE, 3), np.uint8)
    for i in range(n):
        img = np.empty((SIZE, SIZE, 3), np.float64)
        img[:] = scene.background
        for th in scene.things:
            if th.direction == "still":
                continue
            for dt, alpha in reversed(TRAIL):          # farthest (faintest) first
                m = shape_mask(th, i / FPS - dt)
                img[m] = img[m] * (1 - alpha) + np.array(COLOURS[th.colour], np.float64) * alpha
        img = np.floor(img + 0.5)
        for th in scene.things:
            img[shape_mask(th, i / FPS)] = COLOURS[th.colour]
        out[i] = img.astype(np.uint8)
    return out


def render_audio(scene: Scene) -> np.ndarray:
    """float32 mono samples at SAMPLE_RATE: `beeps` tone bursts (10 ms ramps) over faint noise."""
    n = int(SECONDS * SAMPLE_RATE)
    rng = np.random.default_rng(scene.seed + 7_000_003)
    a = (0.01 * rng.standard_normal(n)).astype(np.float64)
    t = np.arange(int(scene.beep_length * SAMPLE_RATE)) / SAMPLE_RATE
    ramp = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)
    burst = 0.4 * np.sin(2 * np.pi * scene.frequency * t) * ramp
    for k in range(scene.beeps):
        s = int((scene.beep_start + k * scene.beep_gap) * SAMPLE_RATE)
        a[s:s + len(burst)] += burst[: n - s]
    return np.clip(a, -1, 1).astype(np.float32)


def write_clip(scene: Scene, path: str) -> None:
    """Writes an mp4 (H.264 yuv420p, AAC 16 kHz mono) with ffmpeg: frames through a rawvideo pipe, audio via a wav."""
    frames = render_frames(scene)
    audio = render_audio(scene)
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "a.wav")
        with wave.open(wav, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            w.writeframes((audio * 32767).round().astype("<i2").tobytes())
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{SIZE}x{SIZE}", "-r", str(FPS), "-i", "-",
               "-i", wav, "-map", "0:v", "-map", "1:a",
               "-c:v", "libx264", "-preset", "medium", "-crf", "20", "-pix_fmt", "yuv420p", "-threads", "1",
               "-c:a", "aac", "-b:a", "24k", "-ar", str(SAMPLE_RATE), "-ac", "1",
               "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
               "-movflags", "+faststart", path]
        subprocess.run(cmd, input=frames.tobytes(), check=True)


# ---------------------------------------------------------------------------------------------------------- questions

def _moves(th: Thing) -> str:
    return "stands still" if th.direction == "still" else f"moves {th.direction}"


def _mc(rng, question: str, answer: str, pool, category: str) -> dict:
    """A Video-MME-style item: four lettered options (answer among them), the answer is the letter."""
    others = [p for p in pool if p != answer]
    opts = list(rng.choice(others, size=3, replace=False)) + [answer]
    rng.shuffle(opts)
    letters = "ABCD"
    return {"question": question, "options": [f"{letters[i]}. {o}" for i, o in enumerate(opts)],
            "answer": letters[opts.index(answer)], "category": category}


def questions_for(scene: Scene, rng) -> list[dict]:
    """Every question this scene answers: dicts with question, answer, category and optionally options."""
    q = []
    ths = scene.things
    shapes = [t.shape for t in ths]
    beeps, tone = str(scene.beeps), scene.tone
    # seen
    q.append({"question": "How many shapes are there?", "answer": str(len(ths)), "category": "seen"})
    for t in ths:
        q.append({"question": f"What shape is the {t.colour} one?", "answer": t.shape, "category": "seen"})
        q.append({"question": f"Which way does the {t.colour} {t.shape} move?", "answer": t.direction,
                  "category": "seen"})
        q.append({"question": f"What colour is the shape that {_moves(t)}?", "answer": t.colour, "category": "seen"})
        if shapes.count(t.shape) == 1:
            q.append({"question": f"What colour is the {t.shape}?", "answer": t.colour, "category": "seen"})
        q.append(_mc(rng, f"Which way does the {t.colour} {t.shape} move?", t.direction, DIRECTIONS, "seen"))
    # heard
    q.append({"question": "How many beeps are there?", "answer": beeps, "category": "heard"})
    q.append({"question": "Is the tone high or low?", "answer": tone, "category": "heard"})
    q.append(_mc(rng, "How many beeps are there?", beeps, ("1", "2", "3", "4"), "heard"))
    # both
    for t in ths:
        q.append({"question": f"What colour is the shape that {_moves(t)}, and how many beeps are there?",
                  "answer": f"{t.colour}, {beeps}", "category": "both"})
        q.append({"question": f"What shape is the {t.colour} one, and is the tone high or low?",
                  "answer": f"{t.shape}, {tone}", "category": "both"})
        q.append({"question": f"Which way does the {t.colour} {t.shape} move, and how many beeps are there?",
                  "answer": f"{t.direction}, {beeps}", "category": "both"})
    return q


def prompt_text(item: dict) -> str:
    """The user text for an item: the question, then (multiple choice) one option per line and the instruction."""
    if item.get("options"):
        return "\n".join([item["question"], *item["options"], MC_SUFFIX])
    return item["question"]


def eval_items(scene: Scene, seed: int) -> list[dict]:
    """A fixed selection for a question set: one open question per category and one multiple-choice item."""
    rng = np.random.default_rng(seed + 1_000_003)
    allq = questions_for(scene, rng)
    picked = []
    for cat in ("seen", "heard", "both"):
        open_q = [x for x in allq if x["category"] == cat and "options" not in x]
        picked.append(open_q[int(rng.integers(len(open_q)))])
    mc = [x for x in allq if "options" in x]
    picked.append(mc[int(rng.integers(len(mc)))])
    return picked


def dump_jsonl(rows, path: str) -> None:
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
