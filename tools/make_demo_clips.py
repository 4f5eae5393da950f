#!/usr/bin/env python3
"""Writes synthetic Reel AV demo clips (H.264 + AAC mp4, made by ffmpeg) and their question set.

    python tools/make_demo_clips.py OUT_DIR --count 16 --seed 1000000

OUT_DIR receives clips/NNNN.mp4, scenes.jsonl (what each clip shows and sounds like, for training) and
questions.jsonl (the `reel eval` question set: video path relative to the file, question, optional options,
expected answer, category). Clip i is made from seed `seed + i` alone, so any clip can be re-made on its own.
"""
import argparse
import os
import sys
from multiprocessing import Pool

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reel_av import clips  # noqa: E402


def _write(job) -> None:
    seed, path = job
    clips.write_clip(clips.sample_scene(seed), path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1_000_000, help="seed of the first clip (training uses 0...)")
    ap.add_argument("--jobs", type=int, default=1, help="clips written in parallel (each file depends on its seed only)")
    a = ap.parse_args()
    os.makedirs(os.path.join(a.out, "clips"), exist_ok=True)
    scenes, questions, jobs = [], [], []
    for i in range(a.count):
        seed = a.seed + i
        scene = clips.sample_scene(seed)
        rel = f"clips/{i:04d}.mp4"
        jobs.append((seed, os.path.join(a.out, rel)))
        scenes.append({"video": rel, **scene.to_json()})
        for k, item in enumerate(clips.eval_items(scene, seed)):
            questions.append({"id": f"{i:04d}-{k}", "video": rel, **item})
    with Pool(a.jobs) as pool:
        for i, _ in enumerate(pool.imap(_write, jobs, chunksize=4)):
            if (i + 1) % 50 == 0 or i + 1 == a.count:
                print(f"{i + 1}/{a.count} clips", file=sys.stderr, flush=True)
    clips.dump_jsonl(scenes, os.path.join(a.out, "scenes.jsonl"))
    clips.dump_jsonl(questions, os.path.join(a.out, "questions.jsonl"))


if __name__ == "__main__":
    main()
