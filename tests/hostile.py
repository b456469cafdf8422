"""Hypothesis strategies for what hostile or broken clients send: text with lone UTF-16
surrogates, NULs and control characters, and multipart bodies broken in every way a parser
meets (truncated or colonless headers, odd transfer encodings, missing boundaries)."""

from __future__ import annotations

from hypothesis import strategies as st

# surrogates (Cs) and controls (Cc) included, unlike hypothesis' default text
HOSTILE_TEXT = st.text(
    alphabet=st.characters(categories=["Cs", "Cc", "L", "N", "P", "S", "Zs", "M"]), max_size=60
) | st.sampled_from(["\ud83d", "a\udc00b", "\ud83d\ude00\ud83d", "\x00", "\ufffe\uffff", "\u202e"])

BOUNDARY = "fUzZbOuNdArY"
PART_HEADERS = st.sampled_from(
    [
        b'Content-Disposition: form-data; name="text"',
        b'Content-Disposition: form-data; name="device_id"',
        b'Content-Disposition: form-data; name="lat"',
        b'Content-Disposition: form-data; name="photo"; filename="a.jpg"',
        b"Content-Disposition: form-data",
        b"Content-Disposition form-data",
        b"Content-Disposition: form-data; na",
        b"Content-Transfer-Encoding: base64",
        b"Content-Transfer-Encoding: quoted-printable",
        b"Content-Transfer-Encoding: x-unknown",
        b"Content-Encoding: gzip",
        b"Content-Encoding: deflate",
        b"Content-Type: multipart/mixed; boundary=in",
        b"Content-Type: text/plain; charset=x-nonesuch",
        b"Content-Length: 99999999",
        b": no name",
    ]
) | st.binary(max_size=40)


def _part(headers: list[bytes], body: bytes) -> bytes:
    return b"\r\n".join(headers) + b"\r\n\r\n" + body


def _assemble(parts: list[bytes], close: bool, cut: int) -> bytes:
    mark = b"--" + BOUNDARY.encode()
    body = b"".join(mark + b"\r\n" + p + b"\r\n" for p in parts)
    if close:
        body += mark + b"--\r\n"
    return body[: len(body) - cut] if cut else body


PART_BODIES = (
    HOSTILE_TEXT.map(lambda s: s.encode("utf-8", "surrogatepass"))
    | st.binary(max_size=80)
    | st.sampled_from(
        [b"device-fuzz-0002", b"43.2", b"NaN", b"1e308", b"\xff\xd8\xff\xe0" + bytes(64)]
    )
)

MULTIPART_BODIES = st.builds(
    _assemble,
    st.lists(
        st.builds(_part, st.lists(PART_HEADERS, min_size=0, max_size=3), PART_BODIES),
        max_size=4,
    ),
    st.booleans(),
    st.integers(0, 30),
)
MULTIPART_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
