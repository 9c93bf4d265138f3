"""Every number the format or the defaults depend on, each with its reason."""

from __future__ import annotations

MAGIC = b"\x8eNCR"
"""Frame magic. The high first byte makes text-mode mangling (7-bit, CRLF) visible at once."""

FORMAT_VERSION = 2
"""Container version written; FORMAT.md specifies it. Version 1 archives are still read."""

READ_VERSIONS = (1, 2)
"""Container versions a decoder reads; it rejects any other (UnsupportedFormatError)."""

STATE_BITS = 32
"""Arithmetic coder register width: low/high are 32-bit, as in the classic Witten-Neal-Cleary coder."""

PRECISION_BITS = 24
"""CDF precision: frequencies sum to 2**24. Must be <= STATE_BITS - 2 so a quarter range holds the total."""

DEFAULT_LANES = 8
"""Chunks evaluated side by side, one token each per llama_decode (chosen by measurement, BENCHMARKS.md)."""

DEFAULT_WINDOW = 1024
"""Tokens of context a lane keeps in the KV cache before it slides. Measured (BENCHMARKS.md): with the
start token kept, 1024 costs about 0.9% more bits than 2048 and runs about 1.3 times as fast; the
ensemble's n-gram and bias models, whose memory is the whole frame, win that back and more."""

DEFAULT_CHUNK_BYTES = 64 * 1024
"""Largest chunk, in input bytes. Longer chunks waste fewer bits on cold starts; more chunks fill more lanes."""

MIN_CHUNK_BYTES = 16 * 1024
"""Smallest chunk a text is cut into (unless it is shorter): a chunk restart costs its first tokens'
context, so small inputs use fewer lanes rather than many cold ones."""

MAX_CHUNK_BYTES = 1 << 26
"""Upper bound a decoder accepts for one chunk's length, so a damaged header cannot ask for a huge buffer."""

MAX_LANES = 256
"""Upper bound on lanes a decoder accepts; llama.cpp's n_seq_max is far below any real memory limit there."""

FALLBACK_ZSTD_LEVEL = 19
"""zstd level for input the model cannot code: as good as `zstd -19`, the bar the issue sets."""

MAX_GROUP_CHUNKS = 4096
"""Upper bound on chunks in one group (neural ones are further limited to the lanes)."""

DEFAULT_SEGMENT_BYTES = 1 << 20
"""Largest segment, in input bytes. A segment decodes alone (fresh model state and ensemble), so segments
spread over workers and can be read at random; each restart costs the ensemble what it had learned."""

BINARY_SEGMENT_BYTES = 1 << 26
"""The segment size chosen for input whose first segment is mostly not text: 64 MiB, the dictionary of
``xz -9``, so binary data loses nothing to the cuts that text needs for parallel work (measured: 6 MB of
a shared library in 1 MiB segments came to 2.2% more than ``xz -9e``)."""

MIN_SEGMENT_BYTES = 4096
"""Smallest segment size an archive may declare (small enough for tests to make many segments)."""

MAX_SEGMENT_BYTES = 1 << 30
"""Largest segment size an archive may declare: a decoder holds up to one segment's other bytes at once."""
