"""The stacking rules of ingest/stacks.py on their own: which photos form one stack, and its cover."""
from __future__ import annotations

from phototrove.ingest.stacks import Row, find_stacks


def row(pid, name, media="image", taken="2019-07-14T10:30:00", burst=None, folder="/pics", **meta):
    return Row(pid, media, taken, burst, f"{folder}/{name}", "", meta)


def test_raw_and_jpeg_of_one_shot_stack_with_the_jpeg_on_top():
    rows = [row(1, "IMG_0001.CR2", "raw"), row(2, "IMG_0001.JPG", taken="2019-07-14T10:30:01"),
            row(3, "IMG_0002.CR2", "raw"), row(4, "IMG_0002.JPG", taken="2019-07-14T10:31:00"),  # 60 s apart
            row(5, "IMG_0003.CR2", "raw", folder="/other"), row(6, "IMG_0003.JPG")]             # other folders
    assert find_stacks(rows) == [[2, 1]]


def test_an_edited_copy_covers_its_original_and_the_original_raw():
    rows = [row(1, "PXL_1.jpg"), row(2, "PXL_1-edited.jpg"), row(3, "PXL_1.dng", "raw"),
            row(4, "IMG_7-bearbeitet.jpg"), row(5, "IMG_7.jpg"), row(6, "IMG_8-edited.jpg")]
    assert sorted(find_stacks(rows)) == [[2, 1, 3], [4, 5]]


def test_bursts_by_id_and_by_pixel_names_cover_first():
    rows = [row(1, "IMG_1.jpg", burst="B1"), row(2, "IMG_2.jpg", burst="B1"), row(3, "IMG_3.jpg", burst="B2"),
            row(4, "00000IMG_00000_BURST20190714103000123.jpg"),
            row(5, "00001IMG_00001_BURST20190714103000123_COVER.jpg"),
            row(6, "00002IMG_00002_BURST20190714103000123.jpg")]
    assert sorted(find_stacks(rows)) == [[1, 2], [5, 4, 6]]


def test_lightroom_virtual_copies_join_their_masters_stack():
    rows = [row(1, "a.jpg", lr_image_id=10), row(2, "a.jpg#11", lr_image_id=11, lr_master_id=10),
            row(3, "b.jpg", lr_image_id=12), row(4, "c.jpg#13", lr_image_id=13, lr_master_id=99)]
    assert find_stacks(rows) == [[1, 2]]
