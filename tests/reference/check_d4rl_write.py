#!/usr/bin/python3
"""Independent check of libdr3's D4RL-layout writers (run by the test d4rl_write_reference).

Usage: check_d4rl_write.py DIR   where DIR holds what `test_d4rl_write --write DIR` wrote:
DIR/npy/ (always) and DIR/d4rl.hdf5 (when libdr3 has HDF5 and h5py is importable).

The expected arrays are built here from the formulas in tests/test_d4rl_write.c, with numpy,
and compared with what numpy.load and h5py read: names, dtypes, shapes and every value.
Run with Debian's /usr/bin/python3 (numpy; python3-h5py for the HDF5 half)."""
import os
import sys

import numpy as np

STEPS = [4, 3, 2, 2]
OBS_DIM, ACT_DIM = 3, 2


def expected():
    obs, act, rew, term, tout, nobs = [], [], [], [], [], []
    for e, T in enumerate(STEPS):
        o = lambda t: [10.0 * e + t + 0.25 * j for j in range(OBS_DIM)]
        for t in range(T):
            last = t + 1 == T
            obs.append(o(t))
            act.append([0.5 * (t + 1) - 0.125 * j - e for j in range(ACT_DIM)])
            rew.append(e + 0.5 * t)
            term.append(last and e in (0, 2))
            tout.append(last and e == 1)
            # s' is stored inside an episode and as the final observation of episodes 0, 1;
            # episode 2 ended terminal without one, episode 3 is open: zeros
            has_next = not last or e in (0, 1)
            nobs.append(o(t + 1) if has_next else [0.0] * OBS_DIM)
    f32 = np.float32
    return {
        "observations": np.array(obs, dtype=f32),
        "actions": np.array(act, dtype=f32),
        "rewards": np.array(rew, dtype=f32),
        "terminals": np.array(term, dtype=np.bool_),
        "timeouts": np.array(tout, dtype=np.bool_),
        "next_observations": np.array(nobs, dtype=f32),
    }


def compare(name, got, want, where):
    if got.dtype != want.dtype or got.shape != want.shape:
        sys.exit(f"{where}: {name} is {got.dtype} {got.shape}, expected {want.dtype} {want.shape}")
    if not np.array_equal(got, want):
        sys.exit(f"{where}: {name} differs:\n{got}\nexpected\n{want}")


def main():
    d = sys.argv[1]
    want = expected()
    npy = os.path.join(d, "npy")
    names = sorted(f[:-4] for f in os.listdir(npy))
    if names != sorted(want):
        sys.exit(f"{npy}: files {names}, expected {sorted(want)}")
    for k, v in want.items():
        compare(k, np.load(os.path.join(npy, k + ".npy")), v, npy)
    print(f"numpy: {npy}: {len(want)} arrays, {len(want['rewards'])} rows as expected")
    h5 = os.path.join(d, "d4rl.hdf5")
    if not os.path.exists(h5):
        print("no d4rl.hdf5 (libdr3 without HDF5)")
        return
    import h5py
    with h5py.File(h5, "r") as f:
        if sorted(f.keys()) != sorted(want):
            sys.exit(f"{h5}: datasets {sorted(f.keys())}, expected {sorted(want)}")
        for k, v in want.items():
            compare(k, f[k][()], v, h5)
    print(f"h5py: {h5}: {len(want)} datasets as expected")


if __name__ == "__main__":
    main()
