#!/usr/bin/env python3
"""Writes the .npy inputs of the bad-input cases (bad_inputs.tsv) and of the
fuzz seed corpus, byte by byte, so that no NumPy is needed and every defect
is deliberate. Run from this folder; the output is committed."""

import struct


def header(descr, shape, fortran=False, major=1, pad_to=64):
    """Magic, version, header length and the dict literal, padded."""
    shape_text = "(" + ", ".join(str(n) for n in shape)
    shape_text += ",)" if len(shape) == 1 else ")"
    text = "{'descr': %s, 'fortran_order': %s, 'shape': %s, }" % (
        descr if descr.startswith("[") else "'%s'" % descr,
        "True" if fortran else "False",
        shape_text,
    )
    prefix = 10 if major == 1 else 12
    total = prefix + len(text) + 1
    text += " " * ((pad_to - total % pad_to) % pad_to) + "\n"
    length = struct.pack("<H" if major == 1 else "<I", len(text))
    return b"\x93NUMPY" + bytes([major, 0]) + length + text.encode("latin1")


def values(count, fmt):
    """Deterministic values 0.1, 0.2, ... packed with struct format fmt."""
    return b"".join(struct.pack(fmt, 0.1 * (i + 1)) for i in range(count))


def write(name, data):
    with open(name, "wb") as out:
        out.write(data)


def main():
    good = header("<f8", (3, 4, 4)) + values(48, "<d")
    write("good_f64.npy", good)
    write("good_f32.npy", header("<f4", (2, 4, 4)) + values(32, "<f"))
    write("good_v2.npy", header("<f8", (1, 4, 4), major=2) + values(16, "<d"))

    write("wrong_shape.npy", header("<f8", (3, 5, 5)) + values(75, "<d"))
    write("wrong_rank.npy", header("<f8", (16,)) + values(16, "<d"))
    write("int64.npy",
          header("<i8", (3, 4, 4)) + struct.pack("<48q", *range(48)))
    write("complex.npy", header("<c16", (3, 4, 4)) + values(96, "<d"))
    write("float16.npy", header("<f2", (3, 4, 4)) + b"\x00\x3c" * 48)
    write("big_endian.npy", header(">f8", (3, 4, 4)) + values(48, ">d"))
    write("object.npy", header("|O", (3, 4, 4)) + b"\x00" * 384)
    write("structured.npy",
          header("[('a', '<f8'), ('b', '<f8')]", (3, 4, 4)) + values(96, "<d"))
    write("fortran.npy",
          header("<f8", (3, 4, 4), fortran=True) + values(48, "<d"))
    write("truncated_data.npy", good[: len(good) - 100])
    write("truncated_header.npy", good[:40])
    write("truncated_prefix.npy", good[:9])
    write("trailing_bytes.npy", good + b"extra")
    write("bad_magic.npy", b"phi,0.1,0.2\n0.3,0.4,0.5\n")
    write("empty.npy", b"")
    write("version4.npy", b"\x93NUMPY\x04\x00" + good[8:])
    write("header_length.npy", good[:8] + struct.pack("<H", 60000) + good[10:])
    write("header_dict.npy",
          header("<f8", (3, 4, 4)).replace(b"'shape'", b"'shope'")
          + values(48, "<d"))
    write("header_not_dict.npy",
          good[:10] + b"[" + good[11:])
    write("negative_shape.npy",
          header("<f8", (3, 4, 4)).replace(b"(3,", b"(-3")
          + values(48, "<d"))
    write("shape_overflow.npy",
          header("<f8", (2 ** 62, 4, 4)) + values(48, "<d"))
    write("shape_huge.npy", header("<f8", (10 ** 9, 4, 4)) + values(48, "<d"))
    write("shape_int64_max.npy",
          header("<f8", (2 ** 63 - 1,)) + values(1, "<d"))
    # Control characters in the header are escaped in the one-line error.
    write("descr_control.npy",
          header("<f\n8\x1b[31m", (3, 4, 4)) + values(48, "<d"))
    # No data at all, yet the other extents overflow the strides.
    write("shape_zero_overflow.npy",
          header("<f4", (0, 4, 10 ** 9, 79999, 4, 10 ** 9, 4, 4)))


if __name__ == "__main__":
    main()
