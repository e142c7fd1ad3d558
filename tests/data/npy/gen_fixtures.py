# Generates the committed .npy fixtures read by tests/test_npy.c. Run with Debian's
# /usr/bin/python3 (numpy); CI never runs it. Values follow simple formulas the C test
# restates by hand.
import os
import numpy as np
from numpy.lib import format as npf

here = os.path.dirname(os.path.abspath(__file__))

# 1. D4RL-style float dataset, np.save (format 1.0), numpy's default int64 actions.
d = os.path.join(here, "flat_f32")
os.makedirs(d, exist_ok=True)
N = 7
obs = np.array([[i + 0.25 * j for j in range(4)] for i in range(N)], dtype=np.float32)
nxt = np.array([[i + 1 + 0.25 * j for j in range(4)] for i in range(N)], dtype=np.float32)
nxt[2] = [100, 101, 102, 103]  # terminal step: its final observation
nxt[5] = [50, 51, 52, 53]      # timeout step: the observation to bootstrap from
nxt[6] = [60, 61, 62, 63]      # last row, episode still open
np.save(os.path.join(d, "observations.npy"), obs)
np.save(os.path.join(d, "actions.npy"), np.array([0, 1, 1, 0, 1, 0, 1]))  # int64
np.save(os.path.join(d, "rewards.npy"), (0.5 * np.arange(N)).astype(np.float32))
np.save(os.path.join(d, "terminals.npy"), np.array([0, 0, 1, 0, 0, 0, 0], dtype=bool))
np.save(os.path.join(d, "timeouts.npy"), np.array([0, 0, 0, 0, 0, 1, 0], dtype=bool))
np.save(os.path.join(d, "next_observations.npy"), nxt)

# 2. uint8 pixels with format 2.0 / 3.0 headers, float64 rewards, uint8 terminals.
d = os.path.join(here, "pixels_u8")
os.makedirs(d, exist_ok=True)
px = (np.arange(5 * 2 * 3).reshape(5, 2, 3) * 7 % 256).astype(np.uint8)
def save(name, arr, version):
    with open(os.path.join(d, name), "wb") as f:
        npf.write_array(f, arr, version=version)
save("observations.npy", px, (2, 0))
save("actions.npy", np.array([2, 0, 1, 2, 1], dtype=np.int32), (3, 0))
save("rewards.npy", np.array([1.5, -2.0, 0.25, 3.0, 1.0], dtype=np.float64), (1, 0))
save("terminals.npy", np.array([0, 0, 0, 0, 1], dtype=np.uint8), (1, 0))
