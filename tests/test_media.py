import io

import numpy as np
import pytest
from PIL import Image

from phototrove.media.decode import load_image, to_rgb
from phototrove.media.jpeg import jpeg_end
from phototrove.media.kinds import MediaError
from phototrove.media.probe import probe
from photos import jpeg, pixels, png_bomb


def test_jpeg_end_finds_eoi_and_rejects_truncation():
    data = jpeg(320, 240, seed=3)
    assert jpeg_end(data) == len(data)
    assert jpeg_end(data[: len(data) - 2]) is None
    assert jpeg_end(data[: len(data) // 2]) is None
    # a motion photo: a video appended after the JPEG's EOI is not part of the image
    trailer = bytes(np.random.default_rng(1).integers(0, 256, 200_000, dtype=np.uint8))
    assert jpeg_end(data + trailer) == len(data)


def test_jpeg_end_handles_progressive_scans():
    buf = io.BytesIO()
    Image.fromarray(pixels(300, 200, seed=5)).save(buf, "JPEG", progressive=True)
    data = buf.getvalue()
    assert data.count(b"\xff\xda") > 1  # several scans
    assert jpeg_end(data) == len(data)
    assert jpeg_end(data[:-100]) is None


def test_exif_date_gps_camera_lens_orientation():
    data = jpeg(taken="2019:07:04 12:34:56", make="Canon", model="Canon EOS 5D Mark II",
                lens="EF24-105mm f/4L IS USM", orientation=6, gps=(48.858222, -2.2945), alt=-12.5)
    exif = probe(data).exif
    assert exif == {"taken_local": "2019-07-04T12:34:56", "camera": "Canon EOS 5D Mark II", "make": "Canon",
                    "lens": "EF24-105mm f/4L IS USM", "orientation": 6,
                    "lat": pytest.approx(48.858222, abs=1e-6), "lon": pytest.approx(-2.2945, abs=1e-6),
                    "alt": -12.5}


def test_exif_keeps_the_wall_clock_and_its_offset_and_make_prefixes_model():
    exif = probe(jpeg(taken="2021:12:31 23:30:00", offset="-05:00", make="FUJIFILM", model="X100V")).exif
    assert (exif["taken_local"], exif["utc_offset"]) == ("2021-12-31T23:30:00", "-05:00")
    assert exif["camera"] == "FUJIFILM X100V"


def test_zero_gps_means_no_location():
    assert "lat" not in probe(jpeg(gps=(0.0, 0.0))).exif


BAD = {
    "empty": lambda: b"",
    "not-an-image": lambda: b"hello, I am a text file\n",
    "truncated": lambda: jpeg(200, 100)[:1500],
    "too-large": lambda: png_bomb(30000, 30000),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_probe_rejects_bad_files_with_a_kind(kind):
    with pytest.raises(MediaError) as e:
        probe(BAD[kind]())
    assert e.value.kind == kind


def test_probe_png_truncated():
    buf = io.BytesIO()
    Image.fromarray(pixels(50, 40)).save(buf, "PNG")
    assert probe(buf.getvalue()).format == "PNG"
    with pytest.raises(MediaError, match="truncated"):
        probe(buf.getvalue()[:-30])


@pytest.mark.parametrize("mode", ["CMYK", "P", "LA", "RGBA", "I;16", "L", "1"])
def test_to_rgb_any_mode(mode):
    src = Image.fromarray(pixels(20, 10)).convert("RGB")
    if mode == "I;16":
        im = Image.fromarray((np.asarray(src.convert("L"), dtype=np.uint16) * 257).astype("<u2"))
        assert im.mode == "I;16"
    else:
        im = src.convert(mode)
    out = to_rgb(im)
    assert out.mode == "RGB" and out.size == (20, 10)
    if mode in ("L", "I;16"):  # grey stays grey at the same level
        assert abs(np.asarray(out, dtype=int)[..., 0].mean() - np.asarray(src.convert("L"), dtype=int).mean()) < 2


def test_load_image_applies_orientation_and_draft():
    data = jpeg(400, 200, orientation=6)  # stored landscape, shown rotated 90 degrees
    im = load_image(data)
    assert im.size == (200, 400)
    small = load_image(data, min_side=50)  # draft decodes at 1/2, 1/4... never below min_side
    assert small.size == (50, 100)
    with pytest.raises(MediaError):
        load_image(jpeg(400, 200)[:900])


def adobe_to_srgb(rgb):
    """The published Adobe RGB (1998) and sRGB equations, D65 throughout."""
    lin = (np.asarray(rgb, float) / 255) ** (563 / 256)
    to_xyz = np.array([[0.5767309, 0.1855540, 0.1881852], [0.2973769, 0.6273491, 0.0752741],
                       [0.0270343, 0.0706872, 0.9911085]])
    to_srgb = np.array([[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560],
                        [0.0556434, -0.2040259, 1.0572252]])
    s = np.clip(to_srgb @ to_xyz @ lin, 0, 1)
    s = np.where(s <= 0.0031308, 12.92 * s, 1.055 * s ** (1 / 2.4) - 0.055)
    return np.round(s * 255)


@pytest.mark.parametrize("colour", [(200, 100, 50), (40, 160, 90), (0, 200, 0)])
def test_load_image_converts_embedded_profiles_to_srgb(colour):
    from PIL import ImageCms

    from phototrove.media.icc import adobe_rgb_icc

    swatch = Image.new("RGB", (16, 16), colour)
    tagged, plain, srgb = io.BytesIO(), io.BytesIO(), io.BytesIO()
    swatch.save(tagged, "PNG", icc_profile=adobe_rgb_icc())  # PNG: lossless, exact pixel values
    swatch.save(plain, "PNG")
    swatch.save(srgb, "PNG", icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    got = np.array(load_image(tagged.getvalue()).getpixel((8, 8)))
    assert np.abs(got - adobe_to_srgb(colour)).max() <= 2, (got, adobe_to_srgb(colour))
    assert load_image(plain.getvalue()).getpixel((8, 8)) == colour      # untagged: assumed sRGB
    assert load_image(srgb.getvalue()).getpixel((8, 8)) == colour       # already sRGB: untouched


def test_probe_trailers_after_the_eoi_without_searching_the_scan():
    """A JPEG ending in EOI is complete (what follows its own EOI is another JPEG, as an MPF preview
    is), not a motion photo; a video appended after the EOI still is one; cut inside the scan it is
    truncated, even when the cut lands right after an FF byte."""
    from phototrove.media.probe import probe_media

    main, preview = jpeg(320, 240, seed=1), jpeg(160, 120, seed=2)
    with_preview = main + preview
    p = probe_media("image", with_preview, size=len(with_preview), tail=None, name="a.jpg")
    assert (p.width, p.height, p.motion) == (320, 240, False)
    mp4 = (24).to_bytes(4, "big") + b"ftypmp42" + bytes(12) + (8).to_bytes(4, "big") + b"mdat"
    moving = main + mp4 + b"\xff\xd8"       # a video after the image, whatever its own last bytes are
    assert probe_media("image", moving, size=len(moving), tail=None, name="m.jpg").motion is True
    cut = main[: len(main) * 2 // 3]
    cut = cut[: cut.rindex(b"\xff") + 1]
    with pytest.raises(MediaError, match="truncated"):
        probe_media("image", cut, size=len(cut), tail=None, name="c.jpg")
