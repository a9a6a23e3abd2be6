"""Photos -> faces -> labels: throughput of detection and classification, in faces/s and photos/s.

    python benchmarks/faces_throughput.py [--repeat 5]

Runs the shipped model on scikit-image's photos (one portrait, a 12-face composite) and prints how long
detection (Haar cascade) and classification (CNN) take, separately. Prints figures; asserts nothing.
"""

import argparse
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from helpers import faces, gallery
    predictor = faces.Predictor()
    photos = gallery.sample_photos()
    predictor.predict(photos["astronaut"])                      # warm-up: model tracing, cascade loading
    print(f"{'photo':<10} {'size':>9} {'faces':>5} {'detect ms':>9} {'classify ms':>11} {'faces/s':>8} {'photos/s':>8}")
    for name in ("astronaut", "lfw_group"):
        image = photos[name]
        detect, classify = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            boxes = faces.detect(image)
            t1 = time.perf_counter()
            predictor.predict(image, boxes=boxes)
            t2 = time.perf_counter()
            detect.append(t1 - t0)
            classify.append(t2 - t1)
        d, c = np.median(detect), np.median(classify)
        size = "x".join(map(str, image.shape[:2]))
        print(f"{name:<10} {size:>9} {len(boxes):>5} {d * 1e3:>9.1f} {c * 1e3:>11.1f} "
              f"{len(boxes) / (d + c):>8.1f} {1 / (d + c):>8.2f}")


if __name__ == "__main__":
    main()
