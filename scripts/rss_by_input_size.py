"""Peak RSS of a streaming compression by input size, same settings, one process per size:

    python scripts/rss_by_input_size.py BYTES [FILE]

Small chunks (1 KB, 4 lanes, so a group is 4 KB) make many groups out of a short input:
memory must not grow with them.
"""
import resource, sys, time
import nacrith
size = int(sys.argv[1])
data = open(sys.argv[2] if len(sys.argv) > 2 else "corpora/alice29.txt", "rb").read()[:size]
c = nacrith.NacrithCompressor(lanes=4, window=256, chunk_bytes=1024)
began = time.perf_counter()
out = 0
for i in range(0, len(data), 4096):
    out += len(c.compress(data[i:i + 4096]))
out += len(c.flush())
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{size} bytes -> {out} bytes ({8*out/size:.3f} bpb), groups {-(-size // 4096)}, {time.perf_counter()-began:.0f} s, peak RSS {rss:.0f} MiB", flush=True)
