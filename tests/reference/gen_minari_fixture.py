#!/usr/bin/python3
"""Writes a tiny Minari dataset of point-maze-like transitions, and the transitions it holds
as text, with h5py and numpy only (independently of libdr3):

    /usr/bin/python3 tests/reference/gen_minari_fixture.py

outputs (committed):
    tests/data/minari/pointmaze-tiny-v0/data/main_data.hdf5
    tests/data/minari/pointmaze-tiny-v0/data/metadata.json
    tests/reference/minari_fixture_transitions.txt

The layout is the one Minari's HDF5 storage writes (minari/dataset/_storages/hdf5_storage.py
and minari/dataset/minari_storage.py, Farama-Foundation/Minari; docs "Dataset Standards"):
a dataset directory whose data/ holds main_data.hdf5 and metadata.json. main_data.hdf5 has
one group per episode, episode_<id> (id = 0, 1, ...), with attributes id, seed and
total_steps and the datasets

    observations  (T+1, 4) float64  the initial and the final observation included
    actions       (T, 2)   float32
    rewards       (T,)     float64
    terminations  (T,)     bool
    truncations   (T,)     bool
    infos         group with success (T+1,) bool  (Minari <= 0.4 wrote infos as a group)

metadata.json holds total_episodes, total_steps, data_format "hdf5", the serialised
observation and action spaces (minari/serialization.py's Box form: type, dtype, shape, low,
high as JSON strings), dataset_id and minari_version. Minari 0.4 kept total_episodes and
total_steps as attributes of the HDF5 root; they are written there too.

Six episodes of 12, 9, 15, 7, 11 and 10 steps: episode 1 ends by termination, episode 5
ends with neither flag (collection stopped; a reader bootstraps from its final observation),
the others by truncation (the time limit). The text file has one line per step:

    episode t  obs[4]  action[2]  reward  next_obs[4]  terminal truncated

with every value as the float32 a reader converts it to (%.9g, exact for float32). The
HDF5 file records no modification times, so running the script again gives the same bytes.
"""
import json
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATASET = os.path.join(ROOT, "tests", "data", "minari", "pointmaze-tiny-v0")
LENGTHS = [12, 9, 15, 7, 11, 10]
TERMINATED = {1}
OPEN_END = {5}


def new_group(parent, name):
    """A group without modification times, so that the file's bytes repeat (h5py's
    create_group always records them); links in creation order, as Minari's track_order."""
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    gcpl.set_link_creation_order(h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED)
    return h5py.Group(h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl))


def main():
    rng = np.random.default_rng(20261129)
    data_dir = os.path.join(DATASET, "data")
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, "main_data.hdf5")
    lines = []
    total = 0
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)  # the root group without times, too
    fcpl.set_obj_track_times(False)
    fcpl.set_link_creation_order(h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED)
    with h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl)) as f:
        for e, T in enumerate(LENGTHS):
            # a point mass: position in the U-maze's free area, velocity, actions in [-1, 1]
            obs = np.empty((T + 1, 4), dtype=np.float64)
            obs[0, :2] = rng.uniform(0.6, 3.4, size=2)
            obs[0, 2:] = rng.normal(0.0, 0.1, size=2)
            act = rng.uniform(-1.0, 1.0, size=(T, 2)).astype(np.float32)
            for t in range(T):
                v = np.clip(obs[t, 2:] + 0.1 * act[t], -5.0, 5.0)
                obs[t + 1, 2:] = v
                obs[t + 1, :2] = obs[t, :2] + 0.01 * v
            rew = (np.linalg.norm(obs[1:, :2] - np.array([1.0, 1.0]), axis=1) <= 0.5)
            rew = rew.astype(np.float64) + rng.normal(0.0, 0.01, size=T)
            term = np.zeros(T, dtype=bool)
            trunc = np.zeros(T, dtype=bool)
            if e in TERMINATED:
                term[-1] = True
            elif e not in OPEN_END:
                trunc[-1] = True
            g = new_group(f, f"episode_{e}")
            g.attrs["id"] = e
            g.attrs["seed"] = 1000 + e
            g.attrs["total_steps"] = T
            g.create_dataset("observations", data=obs, chunks=True, maxshape=(None, 4),
                             track_times=False)
            g.create_dataset("actions", data=act, chunks=True, maxshape=(None, 2),
                             track_times=False)
            g.create_dataset("rewards", data=rew, chunks=True, maxshape=(None,), track_times=False)
            g.create_dataset("terminations", data=term, chunks=True, maxshape=(None,),
                             track_times=False)
            g.create_dataset("truncations", data=trunc, chunks=True, maxshape=(None,),
                             track_times=False)
            info = new_group(g, "infos")
            info.create_dataset("success", data=np.zeros(T + 1, dtype=bool), track_times=False)
            o32 = obs.astype(np.float32)
            r32 = rew.astype(np.float32)
            for t in range(T):
                vals = ([e, t] + list(o32[t]) + list(act[t]) + [r32[t]] + list(o32[t + 1])
                        + [int(term[t]), int(trunc[t])])
                lines.append(" ".join(v if isinstance(v, str) else
                                      (str(v) if isinstance(v, int) else "%.9g" % float(v))
                                      for v in vals))
            total += T
        f.attrs["total_episodes"] = len(LENGTHS)
        f.attrs["total_steps"] = total
    box = lambda dtype, n, lo, hi: json.dumps({"type": "Box", "dtype": dtype, "shape": [n],
                                               "low": [lo] * n, "high": [hi] * n})
    meta = {
        "total_episodes": len(LENGTHS),
        "total_steps": total,
        "data_format": "hdf5",
        "observation_space": box("float64", 4, float("-inf"), float("inf")),
        "action_space": box("float32", 2, -1.0, 1.0),
        "dataset_id": "pointmaze-tiny-v0",
        "minari_version": "0.5.1",
        "algorithm_name": "random actions (libdr3 test fixture)",
    }
    with open(os.path.join(data_dir, "metadata.json"), "w") as fh:
        json.dump(meta, fh)
    with open(os.path.join(HERE, "minari_fixture_transitions.txt"), "w") as fh:
        fh.write("# written by tests/reference/gen_minari_fixture.py: episode t obs[4] "
                 "action[2] reward next_obs[4] terminal truncated\n")
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes), {total} steps")


if __name__ == "__main__":
    main()
