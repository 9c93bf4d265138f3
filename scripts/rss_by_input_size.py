"""Peak RSS of a streaming compression by input size, same settings, one process per size:

    python scripts/rss_by_input_size.py BYTES [FILE]

Small chunks (1 KB, 4 lanes, so a group is 4 KB) make many groups out of a short input:
memory must not grow with them.
"""
import resource, sys, time
import nacrith
size = int(sys.argv[1])
data = open(sys.argv[2] if len(sys.argv) > 2 else "nacrith/bench/canterbury/alice29.txt", "rb").read()[:size]
LANES, CHUNK, WRITE = 4, 1024, 4096
c = nacrith.NacrithCompressor(lanes=LANES, window=256, chunk_bytes=CHUNK)
began = time.perf_counter()
out = 0
for i in range(0, len(data), WRITE):
    out += len(c.compress(data[i:i + WRITE]))
out += len(c.flush())
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
groups = -(-size // (LANES * CHUNK))
print(f"{size} bytes -> {out} bytes ({8*out/size:.3f} bpb), groups {groups}, {time.perf_counter()-began:.0f} s, peak RSS {rss:.0f} MiB", flush=True)
