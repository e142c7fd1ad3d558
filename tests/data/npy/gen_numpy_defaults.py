# Writes tests/data/npy/numpy_defaults: what np.save writes for arrays built from Python
# floats and ints (float64 and int64, numpy's defaults), in .npy format 1.0, without numpy
# (struct only), so it runs anywhere. 12 steps, 4 floats per observation, actions 0..2,
# two episodes: rows 0-4 end in a terminal, rows 5-11 in a timeout (float 0/1 flags).
import os
import struct

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "numpy_defaults")
os.makedirs(here, exist_ok=True)


def save(name, descr, shape, fmt, values):
    dims = "(%d,)" % shape[0] if len(shape) == 1 else "(%s)" % ", ".join(map(str, shape))
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, dims)
    total = (10 + len(d) + 1 + 63) // 64 * 64
    header = d + " " * (total - 10 - len(d) - 1) + "\n"
    with open(os.path.join(here, name), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", total - 10) + header.encode())
        f.write(struct.pack("<%d%s" % (len(values), fmt), *values))


N = 12
obs = [0.1 * i + 0.01 * j for i in range(N) for j in range(4)]
save("observations.npy", "<f8", (N, 4), "d", obs)
save("actions.npy", "<i8", (N,), "q", [i % 3 for i in range(N)])
save("rewards.npy", "<f8", (N,), "d", [0.5 * i for i in range(N)])
save("terminals.npy", "<f8", (N,), "d", [1.0 if i == 4 else 0.0 for i in range(N)])
save("timeouts.npy", "<f8", (N,), "d", [1.0 if i == 11 else 0.0 for i in range(N)])
