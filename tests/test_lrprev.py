"""The .lrprev reader (AgHg sections, header table), the Lightroom 13.3+ layout, previews.db and
root-pixels.db, on files written byte by byte by fixtures/lightroom.py."""
import os
import struct

import pytest

from lrfix import lightroom
from phototrove.ingest.lightroom.luatable import HeaderSyntaxError, parse_header
from phototrove.ingest.lightroom.orientation import LR_ORIENTATION, orientation_code
from phototrove.ingest.lightroom.previews import (PreviewError, best_jpeg, read_level, read_lr13, read_lrprev,
                                                  read_previews_db, read_root_pixels)
from phototrove.media.jpeg import jpeg_end

UUID, DIGEST = "3829E5FC-7F3F-4B22-94F3-FB5E2C796026", "07cc63f155500a902b21fef7be6585b5"


def make(tmp_path, sides=(40, 80, 160), text=None, name=None):
    sizes = lightroom.level_sizes(1.5, sides)
    jpegs = [lightroom.make_jpeg(w, h, i) for i, (w, h) in enumerate(sizes)]
    data = lightroom.lrprev_bytes(UUID, DIGEST, jpegs, sizes, text)
    path = tmp_path / (name or f"{UUID}-{DIGEST}.lrprev")
    path.write_bytes(data)
    return path, jpegs, data


def test_header_table_parses_like_lua():
    text = ('pyramid = {\n\tcolorProfile = "AdobeRGB",\n\tcroppedHeight = 2848,\n\tfileTimeStamp = 411156515.25,\n'
            '\tlevels = { { height = 45, width = 67, }, { height = 89, width = 134, }, },\n'
            '\tfromProxy = false, neg = -3, hex = 0x1F, sci = 1e3, none = nil; -- a comment\n'
            '\tesc = "tab\\there \\"q\\" \\65\\x42\\u{e9}\\\\", single = \'it\\\'s\',\n'
            '\t["odd key"] = [==[long ]] string]==], [7] = "seven", "positional",\n'
            '\tfingerprint = "abc",\n}\n')
    p = parse_header(text)["pyramid"]
    assert p["levels"] == [{"height": 45, "width": 67}, {"height": 89, "width": 134}]
    assert (p["colorProfile"], p["croppedHeight"], p["fileTimeStamp"]) == ("AdobeRGB", 2848, 411156515.25)
    assert (p["fromProxy"], p["neg"], p["hex"], p["sci"], p["none"]) == (False, -3, 31, 1000.0, None)
    assert p["esc"] == 'tab\there "q" AB\u00e9\\' and p["single"] == "it's"
    assert p["odd key"] == "long ]] string" and p[7] == "seven" and p[1] == "positional"


@pytest.mark.parametrize("text", [
    'pyramid = { a = 1 b = 2 }',              # missing separator
    'pyramid = { a = "unterminated }',
    'pyramid = { a = os.execute("rm -rf /") }',  # code is a syntax error, never run
    'pyramid = ' + "{" * 100 + "}" * 100,     # nesting bomb
    'pyramid = { a = "\\q" }',                # unknown escape
])
def test_header_odd_syntax_is_rejected(text):
    with pytest.raises(HeaderSyntaxError):
        parse_header(text)


def test_sections_are_byte_exact_and_levels_read_back(tmp_path):
    path, jpegs, data = make(tmp_path)
    # the layout itself: 32-byte section headers, 16-byte alignment, names, flags
    assert data[:4] == b"AgHg" and struct.unpack(">HBB", data[4:8]) == (32, 0, 0)
    assert data[24:32] == b"header\x00\x00"
    p = read_lrprev(str(path))
    assert (p.uuid, p.digest, p.header["quality"], p.warnings) == (UUID, DIGEST, "final", [])
    assert [lv.name for lv in p.levels] == ["level_1", "level_2", "level_3"]
    for lv, jpeg in zip(p.levels, jpegs):
        assert lv.offset % 16 == 0 and data[lv.offset - 32:lv.offset - 24] == b"AgHg\x00\x20\x01\x00"
        assert read_level(str(path), lv) == jpeg
    assert (p.largest().width, p.largest().height) == (160, 107)
    level, jpeg, notes = best_jpeg(p)
    assert level.name == "level_3" and jpeg == jpegs[-1] and notes == []


def test_unknown_header_keys_are_kept_and_odd_header_still_yields_levels(tmp_path):
    sizes = lightroom.level_sizes(1.5, (40, 80, 160))
    extra = '\tfingerprint = "f00", fromProxy = false, quality2 = { nested = { deep = true } },\n'
    path, jpegs, _ = make(tmp_path, text=lightroom.header_text(UUID, DIGEST, sizes, extra))
    p = read_lrprev(str(path))
    assert p.header["quality2"] == {"nested": {"deep": True}} and p.warnings == []
    path2, jpegs2, _ = make(tmp_path, text="pyramid = { this is not lua ", name=f"{UUID}-{'1' * 32}.lrprev")
    p2 = read_lrprev(str(path2))
    assert p2.header == {} and "header not understood" in p2.warnings[0]
    assert (p2.uuid, p2.digest) == (UUID, "1" * 32)             # from the file name
    assert best_jpeg(p2)[1] == jpegs2[-1]


def test_truncated_file_falls_back_to_largest_complete_level(tmp_path):
    path, jpegs, data = make(tmp_path)
    p_full = read_lrprev(str(path))
    cut = p_full.levels[-1].offset + 100                      # inside level_3
    path.write_bytes(data[:cut])
    p = read_lrprev(str(path))
    assert "truncated" in p.warnings[0] and p.partial()
    assert p.largest().name == "level_2"
    level, jpeg, _ = best_jpeg(p)
    assert level.name == "level_2" and jpeg == jpegs[1] and jpeg_end(jpeg) == len(jpeg)
    # cut inside the header section: no level at all -> one clear error
    path.write_bytes(data[:40])
    with pytest.raises(PreviewError) as e:
        read_lrprev(str(path))
    assert e.value.kind == "truncated"


def test_damaged_level_data_is_skipped(tmp_path):
    path, jpegs, data = make(tmp_path)
    lv = read_lrprev(str(path)).levels[-1]
    broken = bytearray(data)
    broken[lv.offset + lv.declared - 2:lv.offset + lv.declared] = b"\x00\x00"  # EOI gone, length intact
    path.write_bytes(bytes(broken))
    level, jpeg, notes = best_jpeg(read_lrprev(str(path)))
    assert level.name == "level_2" and jpeg == jpegs[1] and "not a complete JPEG" in notes[0]


def test_zero_byte_and_photoshop_agHg_and_garbage(tmp_path):
    empty = tmp_path / f"{UUID}-{DIGEST}.lrprev"
    empty.write_bytes(b"")
    with pytest.raises(PreviewError) as e:
        read_lrprev(str(empty))
    assert e.value.kind == "empty"
    # AgHg magic but no header section (a Photoshop resource)
    ps = tmp_path / "ps.lrprev"
    ps.write_bytes(lightroom.section("level_1", lightroom.make_jpeg(20, 20, 1), 1))
    with pytest.raises(PreviewError) as e:
        read_lrprev(str(ps))
    assert e.value.kind == "not-a-preview" and "header" in str(e.value)
    junk = tmp_path / "junk.lrprev"
    junk.write_bytes(b"GIF89a" + b"\x00" * 100)
    with pytest.raises(PreviewError) as e:
        read_lrprev(str(junk))
    assert e.value.kind == "not-a-preview"


def test_lr13_layout(tmp_path):
    lib = lightroom.make_library(str(tmp_path), lr13=True)
    uuid, digest = lightroom.uuid_of(101), lightroom.IMAGES[0].digest
    files = sorted(os.listdir(os.path.dirname(lightroom.preview_path(lib.lrdata, uuid, digest))))
    assert f"{uuid}-{digest}_384" in files and f"{uuid}-{digest}_48" in files
    p = read_lr13(lightroom.preview_path(lib.lrdata, uuid, digest, "_384"))
    assert (p.uuid, p.digest, p.layout) == (uuid, digest, "lr13")
    assert (p.levels[0].width, p.levels[0].height, p.levels[0].present) == (384, 256, True)
    # a truncated one is seen as incomplete without decoding
    cut = tmp_path / f"{uuid}-{'2' * 32}_384"
    cut.write_bytes(lib.levels[(uuid, digest)][-1][:500])
    assert not read_lr13(str(cut)).levels[0].present


def test_previews_db_and_root_pixels(tmp_path):
    lib = lightroom.make_library(str(tmp_path), catalog=False)
    entries, stamps, warnings = read_previews_db(os.path.join(lib.lrdata, "previews.db"))
    assert warnings == [] and len(entries) == len(lightroom.IMAGES) + 1
    by_id = {e.image_id: e for e in entries}
    assert by_id[1].orientation == 6 and by_id[4].orientation == 8 and by_id[5].orientation == 2
    img7 = lightroom.IMAGES[6]
    tiny = read_root_pixels(os.path.join(lib.lrdata, "root-pixels.db"), lightroom.uuid_of(img7.file), img7.digest)
    assert tiny == lib.levels[(lightroom.uuid_of(img7.file), img7.digest)][0]
    assert read_root_pixels(os.path.join(lib.lrdata, "root-pixels.db"), UUID, DIGEST) is None
    bad = tmp_path / "previews.db.bad"
    bad.write_bytes(b"not sqlite at all" * 100)
    assert read_previews_db(str(bad))[2] and read_previews_db(str(bad))[0] == []


def test_orientation_codes():
    assert LR_ORIENTATION == {"AB": 1, "BA": 2, "CD": 3, "DC": 4, "AD": 5, "BC": 6, "CB": 7, "DA": 8}
    assert orientation_code("bc") == 6 and orientation_code(8) == 8 and orientation_code("8") == 8
    assert orientation_code("XY") is None and orientation_code(9) is None and orientation_code(None) is None


def test_the_fast_paths_answer_as_the_plain_ones(tmp_path):
    """The reader's shortcuts (one first read for the header, the uuid found by its literal, the
    largest level without sorting) give what the plain forms give, odd inputs included."""
    import random

    from phototrove.ingest.lightroom import previews

    rng = random.Random(5)
    u = UUID.encode()
    texts = [b"", b'uuid="' + u + b'"', b'xuuid = "' + u + b'" uuid = "' + u + b'"', b'_uuid="' + u + b'"',
             b'a.uuid =\t"' + u + b'",', b'\xe9uuid="' + u + b'"', b'uuid="bad" uuid="' + u + b'"']
    alphabet = b'uid="=-_ a\xe9\t' + u[:12]
    for i in range(3000):
        noise = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        texts.append(noise + b'uuid = "' + u + b'"' + noise if i % 2 else noise)
    for text in texts:
        want, got = previews._HEADER_UUID.search(text), previews._header_uuid(text)
        assert (want and (want.span(), want.group(1))) == (got and (got.span(), got.group(1))), text
    for _ in range(3000):
        levels = [previews.Level(f"level_{j}", rng.randint(0, 5), 0, n - (rng.random() < 0.3), n)
                  for j, n in enumerate(rng.randint(1, 9) for _ in range(rng.randint(0, 6)))]
        if rng.random() < 0.5:
            levels.sort(key=lambda lv: lv.index)
        p = previews.Preview("x", None, None, levels=levels)
        present = p.present_levels()
        assert p.largest() is (present[0] if present else None)
    # a header longer than the first read, a 48-byte section header, files shorter than it (one cut)
    sizes = lightroom.level_sizes(1.5, (40, 80))
    jpegs = [lightroom.make_jpeg(w, h, i) for i, (w, h) in enumerate(sizes)]
    long_text = lightroom.header_text(UUID, DIGEST, sizes, extra='\tnote = "' + "x" * 5000 + '",\n')
    wide = (b"AgHg" + (48).to_bytes(2, "big") + b"\x01\x00" + len(jpegs[0]).to_bytes(8, "big") + bytes(8)
            + b"level_1".ljust(24, b"\x00"))
    cases = [lightroom.lrprev_bytes(UUID, DIGEST, jpegs, sizes, long_text),
             lightroom.section("header", lightroom.header_text(UUID, DIGEST, sizes).encode(), 0) + wide + jpegs[0],
             lightroom.lrprev_bytes(UUID, DIGEST, jpegs[:1], sizes[:1]),
             lightroom.lrprev_bytes(UUID, DIGEST, jpegs[:1], sizes[:1])[:-50]]
    assert len(cases[2]) < previews.FIRST_READ
    # the 48-byte section header across the end of the first read (its first 32 bytes in it)
    text = lightroom.header_text(UUID, DIGEST, sizes).encode()
    text += b" " * (previews.FIRST_READ - 64 - len(text))
    cases.append(lightroom.section("header", text, 0) + wide + jpegs[0])
    assert len(lightroom.section("header", text, 0)) == previews.FIRST_READ - 32
    for data in cases:
        path = tmp_path / f"{UUID}-{DIGEST}.lrprev"
        path.write_bytes(data)
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            assert previews.read_sections(fd, size, os.pread(fd, previews.FIRST_READ, 0)) == previews.read_sections(fd, size)
        finally:
            os.close(fd)
        p, full = read_lrprev(str(path), header=False), read_lrprev(str(path))
        assert [lv.name for lv in p.levels] == [lv.name for lv in full.levels] and p.levels
        assert [(lv.width, lv.height) for lv in p.levels] == [(lv.width, lv.height) for lv in full.levels]
        assert not any("cut short" in w for w in p.warnings)
    # the largest level one byte short: seen as such, and not used
    data = lightroom.lrprev_bytes(UUID, DIGEST, jpegs, sizes)
    path.write_bytes(data[:data.rindex(jpegs[-1]) + len(jpegs[-1]) - 1])
    p = read_lrprev(str(path), header=False)
    n = len(jpegs[-1])
    assert (p.levels[-1].length, p.levels[-1].declared) == (n - 1, n)
    assert p.largest() is p.levels[0] and f"({n - 1} of {n} bytes)" in p.warnings[0]
