"""Sidecar matching: every rule and concrete name from shared/notes/takeout.md, each run through a
real zip and the real TakeoutSource discovery (names as real exports produce them)."""
from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import takeout_fixtures as tf  # noqa: E402

from phototrove.ingest.base import FindError  # noqa: E402
from phototrove.ingest.takeout.source import TakeoutSource  # noqa: E402
from phototrove.ingest.takeout.matching import clip16, sidecar_keys, title_candidates, utf16_len  # noqa: E402

JPEG = tf.jpeg(7)
YEAR = "Photos from 2023/"


def discover(tmp_path, files: dict, parts: int = 1):
    """Write `files` (path below Google Photos/ -> content) as a real zip export; discover it."""
    items = list(files.items())
    split = [dict(items[i::parts]) for i in range(parts)]
    paths = tf.takeout(str(tmp_path / "export"), split)
    src = TakeoutSource(str(tmp_path / "export"), {"paths": paths})
    found = list(src.discover())
    errors = [f for f in found if isinstance(f, FindError)]
    media = {f.entry.rsplit("/", 1)[-1]: f for f in found if not isinstance(f, FindError)}
    return media, errors, src


def matched_title(tmp_path, media_name: str, json_name: str):
    """The sidecar title attached to `media_name` (None when it got no sidecar)."""
    media, errors, _ = discover(tmp_path, {YEAR + media_name: JPEG,
                                           YEAR + json_name: tf.sidecar("ORIGINAL TITLE " + json_name)})
    assert not errors
    found = media[unicodedata.normalize("NFC", media_name)] if media_name not in media else media[media_name]
    return found.meta.get("title")


EMOJI_TITLE = "😀😀😀😀😀 Birthday party at the lake house.jpg"   # 42 code points, 47 UTF-16 units
BACKYARD = "Backyard_" + "x" * 36 + "_"                             # 46 units: the clipped title
COVER_TITLE = "00100lPORTRAIT_00100_BURST2019083017243_COVER.jpg"
EDITED_CLIPPED_BASE = "Familienfeier_bei_Oma_und_Opa_Sommer"  # 36 chars

MATCHES = [
    # rule 1: both suffixes
    ("IMG_1234.jpg", "IMG_1234.jpg.json"),
    ("IMG_1234.jpg", "IMG_1234.jpg.supplemental-metadata.json"),
    # rule 2: the JSON stem clipped to 46 units, leaving a partial suffix
    ("Screenshot_20231012-103216_WhatsApp.jpg", "Screenshot_20231012-103216_WhatsApp.jpg.supple.json"),
    ("IMG_20190912_123456_1.jpg", "IMG_20190912_123456_1.jpg.supplemental-metadat.json"),
    ("original_3f1c2d4e5b6a7980_PXL20230101123.jpg", "original_3f1c2d4e5b6a7980_PXL20230101123.jpg.s.json"),
    (COVER_TITLE, COVER_TITLE[:45] + "..json"),
    # rule 2: newer exports that do not clip
    ("PXL_20230809_203449253.LONG_EXPOSURE-02.ORIGINAL.jpg",
     "PXL_20230809_203449253.LONG_EXPOSURE-02.ORIGINAL.jpg.supplemental-metadata.json"),
    # rule 3: media stem clipped to 47, JSON to 46
    ("PXL_20230809_203449253.LONG_EXPOSURE-02.ORIGINA.jpg", "PXL_20230809_203449253.LONG_EXPOSURE-02.ORIGIN.json"),
    # rule 4: lengths in UTF-16 units (the emoji title clips at 46 units, 41 code points)
    (EMOJI_TITLE, EMOJI_TITLE[:-1] + ".json"),
    # rule 5: (n) moves
    ("IMG(1).jpg", "IMG.jpg(1).json"),
    ("Scan35(1).jpg", "Scan35.jpg.supplemental-metadata(1).json"),
    ("Screenshot_20231012-103216_WhatsApp(1).jpg", "Screenshot_20231012-103216_WhatsApp.jpg.supple(1).json"),
    ("X(1).jpg", "X.jpg.supple(1).json"),
    ("Party(38).jpg", "Party(38).jpg.json"),  # (38) part of the real name
    # rule 6: truncation collisions numbered too
    (BACKYARD + "m(494).jpg", BACKYARD + "(494).json"),
    # rule 7: edited copies take the original's sidecar, in every listed language
    *[(f"IMG_5-{s}.jpg", "IMG_5.jpg.json")
      for s in ("edited", "effects", "smile", "mix", "bearbeitet", "modifié", "modificato", "bewerkt",
                "edytowane", "編集済み", "ha editado", "editat", "editado", "编辑")],
    (EDITED_CLIPPED_BASE + "_001-ha edi.JPG", EDITED_CLIPPED_BASE + "_001.JPG.json"),  # suffix clipped
    ("IMG(1)-edited.jpg", "IMG.jpg(1).json"),
    ("IMG_5-EDITED.jpg", "IMG_5.jpg.supplemental-metadata.json"),
    # NFC/NFD: macOS zips carry decomposed names
    (unicodedata.normalize("NFD", "Crème brûlée.jpg"), "Crème brûlée.jpg.json"),
    ("Crème brûlée.jpg", unicodedata.normalize("NFD", "Crème brûlée.jpg.supplemental-metadata.json")),
    # rule 8: no extension in the title
    ("20030616.jpg", "20030616.json"),
    # rule 9: extension case differs
    ("P7040106.jpg", "P7040106.JPG.json"),
    ("IMG_0042.JPG", "img_0042.jpg.supplemental-metadata.json"),
    # `/`, `&`, `?` of the title became `_` in both names
    ("Tom _ Jerry_.jpg", "Tom _ Jerry_.jpg.json"),
    ("PXL_20230101_101010123-COLLAGE.jpg", "PXL_20230101_101010123-COLLAGE.jpg.supplemental-metadata.json"),
    ("IMG_20200202-ANIMATION.gif", "IMG_20200202-ANIMATION.gif.json"),
]

NO_MATCH = [
    ("DSC(1).JPG", "DSC.JPG(2).json"),    # rule 5: the index must match exactly
    ("DSC.JPG", "DSC.JPG(1).json"),
    ("DSC(2).JPG", "DSC.JPG.json"),
    ("IMG_0001.jpg", "IMG_0002.jpg.json"),
    ("IMG_0001.jpg", "IMG_0001.jpg.sidecar.json"),  # `.sidecar` is no prefix of supplemental-metadata
    ("PXL_20230809_203449253.LONG_EXPOSURE-02.jpg", "PXL_20230809_203449253.LONG_EXPOSURE-03.jpg.json"),
]


def test_fixture_names_have_the_lengths_real_exports_have():
    assert utf16_len("Screenshot_20231012-103216_WhatsApp.jpg.supple") == 46
    assert utf16_len("IMG_20190912_123456_1.jpg.supplemental-metadat") == 46
    assert utf16_len("original_3f1c2d4e5b6a7980_PXL20230101123.jpg.s") == 46
    assert utf16_len(COVER_TITLE[:45] + ".") == 46 and COVER_TITLE[45] == "."
    assert utf16_len("PXL_20230809_203449253.LONG_EXPOSURE-02.ORIGINA") == 47
    assert len(EMOJI_TITLE) == 42 and utf16_len(EMOJI_TITLE) == 47
    assert utf16_len(BACKYARD) == 46
    assert utf16_len(EDITED_CLIPPED_BASE + "_001-ha edi") == 47


@pytest.mark.parametrize("media,sidecar", MATCHES, ids=[m for m, _ in MATCHES])
def test_sidecar_matches(tmp_path, media, sidecar):
    assert matched_title(tmp_path, media, sidecar) == "ORIGINAL TITLE " + sidecar


@pytest.mark.parametrize("media,sidecar", NO_MATCH, ids=[m + "~" + j for m, j in NO_MATCH])
def test_sidecar_does_not_match(tmp_path, media, sidecar):
    assert matched_title(tmp_path, media, sidecar) is None


def test_numbered_duplicates_each_take_their_own_sidecar(tmp_path):
    media, errors, src = discover(tmp_path, {
        YEAR + "IMG_3479.JPG": tf.jpeg(1), YEAR + "IMG_3479(1).JPG": tf.jpeg(2), YEAR + "IMG_3479(2).JPG": tf.jpeg(3),
        YEAR + "IMG_3479.JPG.json": tf.sidecar("IMG_3479.JPG", taken=1500000000),
        YEAR + "IMG_3479.JPG(1).json": tf.sidecar("IMG_3479.JPG", taken=1500000001),
        YEAR + "IMG_3479.JPG(2).json": tf.sidecar("IMG_3479.JPG", taken=1500000002),
    })
    assert not errors
    assert [media[n].meta["taken_utc"] for n in ("IMG_3479.JPG", "IMG_3479(1).JPG", "IMG_3479(2).JPG")] == [
        "2017-07-14T02:40:00Z", "2017-07-14T02:40:01Z", "2017-07-14T02:40:02Z"]
    assert src.found.report["sidecars_matched"] == 3 and src.found.report["media_unmatched"] == []


def test_json_in_part_1_matches_photo_in_part_3(tmp_path):
    paths = tf.takeout(str(tmp_path / "e"), [
        {YEAR + "IMG_0100.jpg.json": tf.sidecar("IMG_0100.jpg", people=["Ana"])},
        {YEAR + "IMG_0200.jpg": tf.jpeg(2)},
        {YEAR + "IMG_0100.jpg": tf.jpeg(1)},
    ])
    found = [f for f in TakeoutSource(str(tmp_path / "e"), {"paths": paths}).discover()]
    photo = next(f for f in found if f.entry.endswith("IMG_0100.jpg"))
    assert photo.path == paths[2] and photo.meta["people"] == ["Ana"]


@pytest.mark.parametrize("still,video", [
    ("IMG_5580.HEIC", "IMG_5580.MP4"),
    ("IMG_5580.JPG", "IMG_5580.MOV"),
    ("PXL_20230101_101010123.MP.jpg", "PXL_20230101_101010123.MP"),
    ("MVIMG_20190101_120000.jpg", "MVIMG_20190101_120000"),
])
def test_live_and_motion_videos_inherit_their_stills_sidecar(tmp_path, still, video):
    media, errors, src = discover(tmp_path, {YEAR + still: tf.jpeg(3), YEAR + video: b"\x00\x00\x00\x18ftypmp42" * 50,
                                             YEAR + still + ".json": tf.sidecar(still, geo=(45.5, 6.25, 10.0))})
    assert not errors
    v = media[video].meta
    assert v["media"] == "video" and v["live_photo"] is True
    assert (v["lat"], v["lon"], v["title"]) == (45.5, 6.25, still)
    assert "media" not in media[still].meta
    assert len(src.live_pairs()) == 1 and src.found.report["media_unmatched"] == []


def test_album_json_with_geodata_is_still_an_album(tmp_path):
    doc = {**tf.album("Road trip"), "geoData": {"latitude": 1.0, "longitude": 2.0}}
    media, _, _ = discover(tmp_path, {"Trip/metadata.json": doc, "Trip/IMG_1.jpg": JPEG})
    assert media["IMG_1.jpg"].albums == [("Google Photos/Trip", "Road trip", None)]


@pytest.mark.parametrize("album_name,old_style", [
    ("metadata.json", False), ("métadonnées.json", False), ("Metadaten.json", False),
    ("metadati.json", False), ("метаданные.json", False), ("whatever.json", True),
])
def test_album_json_recognised_by_content(tmp_path, album_name, old_style):
    media, errors, _ = discover(tmp_path, {"Urlaub am Meer/" + album_name: tf.album("Urlaub 🌊", "Sylt", old_style=old_style),
                                           "Urlaub am Meer/IMG_1.jpg": JPEG,
                                           "Urlaub am Meer/IMG_1.jpg.json": tf.sidecar("IMG_1.jpg")})
    assert not errors
    f = media["IMG_1.jpg"]
    assert f.albums == [("Google Photos/Urlaub am Meer", "Urlaub 🌊", "Sylt")] and f.rank > 0
    assert f.meta["title"] == "IMG_1.jpg"  # the album JSON was not taken for a sidecar


@pytest.mark.parametrize("folder", ["Photos from 2019", "Fotos von 2019", "Fotos de 2019", "Photos de 2019",
                                    "Photos\u00a0from\u00a02019", "Фото за 2019 год", "2005-02-05"])
def test_year_folders_in_any_language_are_primary(tmp_path, folder):
    media, _, _ = discover(tmp_path, {folder + "/IMG_9.jpg": JPEG, folder + "/IMG_9.jpg.json": tf.sidecar("IMG_9.jpg")})
    assert media["IMG_9.jpg"].rank == 0 and media["IMG_9.jpg"].albums == []


def test_album_named_like_a_year_is_still_an_album(tmp_path):
    media, _, _ = discover(tmp_path, {"Summer 2019/metadata.json": tf.album("Summer 2019"),
                                      "Summer 2019/IMG_9.jpg": JPEG})
    assert media["IMG_9.jpg"].albums[0][1] == "Summer 2019" and media["IMG_9.jpg"].rank > 0


def test_localized_product_folder_and_trash_by_content(tmp_path):
    paths = [tf.write_zip(str(tmp_path / "takeout-20240101T000000Z-001.zip"), [
        ("Takeout/Google Fotos/Corbeille/IMG_1.jpg", JPEG),
        ("Takeout/Google Fotos/Corbeille/IMG_1.jpg.json", tf.sidecar("IMG_1.jpg", trashed=True)),
        ("Takeout/Google Fotos/Fotos von 2020/IMG_2.jpg", tf.jpeg(2)),
        ("Takeout/Drive/My Drive/holiday.jpg", tf.jpeg(3)),  # another Takeout product: not photos
    ])]
    found = list(TakeoutSource(str(tmp_path), {"paths": paths}).discover())
    by = {f.entry.rsplit("/", 1)[-1]: f for f in found}
    assert set(by) == {"IMG_1.jpg", "IMG_2.jpg"}
    assert by["IMG_1.jpg"].albums == [] and by["IMG_1.jpg"].meta["trashed"] is True and by["IMG_2.jpg"].rank == 0


def test_unit_rules_in_isolation():
    assert clip16("a" * 50) == "a" * 46
    assert clip16("😀" * 30) == "😀" * 23          # never half a surrogate pair
    assert clip16("a" + "😀" * 30) == "a" + "😀" * 22
    assert ("IMG.jpg", 1) in sidecar_keys("IMG.jpg(1).json")
    assert ("Scan35.jpg", 1) in sidecar_keys("Scan35.jpg.supplemental-metadata(1).json")
    assert title_candidates("IMG(1).jpg")[0] == ("IMG.jpg", 1)


@pytest.mark.parametrize("product", ["Google Photos", "Google Fotos", "Google Foto", "Google Фото"])
def test_localized_product_folders_without_any_sidecar(tmp_path, product):
    paths = [tf.write_zip(str(tmp_path / "takeout-20240101T000000Z-001.zip"), [
        (f"Takeout/{product}/Photos from 2020/IMG_1.jpg", JPEG)])]
    found = list(TakeoutSource(str(tmp_path), {"paths": paths}).discover())
    assert [f.entry for f in found] == [f"Takeout/{product}/Photos from 2020/IMG_1.jpg"]


@pytest.mark.parametrize("folder", ["Trash", "Bin", "Archive", "Locked Folder", "Failed Videos", "Papierkorb"])
def test_special_folders_are_no_albums(tmp_path, folder):
    media, _, _ = discover(tmp_path, {folder + "/VID_1.mp4": b"\x00\x00\x00\x18ftypmp42"})
    assert media["VID_1.mp4"].albums == [] and media["VID_1.mp4"].rank > 0


def test_missing_parts_for_both_part_namings(tmp_path):
    from phototrove.ingest.takeout.parts import missing_parts as _missing_parts

    assert _missing_parts(["/d/takeout-20240712T112341Z-001.zip", "/d/takeout-20240712T112341Z-004.zip"]) == [2, 3]
    assert _missing_parts(["/d/takeout-20240712T112341Z-3-002.zip", "/d/takeout-20240712T112341Z-3-003.tgz"]) == [1]
    assert _missing_parts(["/d/takeout-20240712T112341Z-001.zip", "/d/other.zip"]) == []


def test_taken_time_falls_back_to_creation_time_when_missing(tmp_path):
    media, _, _ = discover(tmp_path, {YEAR + "A.jpg": JPEG, YEAR + "A.jpg.json": tf.sidecar("A.jpg", taken=None)})
    assert "taken_utc" not in media["A.jpg"].meta and media["A.jpg"].meta["created_utc"] == "2020-09-13T12:26:40Z"
