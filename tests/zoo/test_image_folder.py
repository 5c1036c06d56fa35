from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

import zoo
import zoo.image_folder as image_folder
from zoo import load_image_folder


def _photo(name: str, side: int = 40) -> Image.Image:
    arr = (zoo.load_photo(name, side).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def _camera(side: int = 40) -> Image.Image:
    return Image.fromarray(skimage.data.camera(), "L").resize((side, side))


def _rgba() -> Image.Image:
    """Chelsea with a fully transparent red left half."""
    img = _photo("chelsea").convert("RGBA")
    arr = np.asarray(img).copy()
    arr[:, :20] = (255, 0, 0, 0)
    return Image.fromarray(arr, "RGBA")


def _write(path: Path, img: Image.Image | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(img, bytes):
        path.write_bytes(img)
    else:
        img.save(path)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    _write(root / "cat" / "chelsea.png", _photo("chelsea"))
    _write(root / "cat" / "chelsea_rgba.PNG", _rgba())
    _write(root / "cat" / "chelsea_p.gif", _photo("chelsea").quantize(256))
    _write(root / "coffee" / "coffee.jpg", _photo("coffee"))
    _write(root / "coffee" / "camera.bmp", _camera())
    _write(root / "coffee" / "corrupt.png", np.random.default_rng(0).bytes(500))
    _write(root / "coffee" / "notes.txt", b"not an image")
    _write(root / "rocket" / "rocket.tiff", _photo("rocket"))
    _write(root / "rocket" / "sub" / "rocket.webp", _photo("rocket"))
    _write(root / "rocket" / ".DS_Store", b"junk")
    _write(root / ".hidden" / "x.png", _photo("rocket"))
    _write(root / "README.md", b"# my data")
    return root


def test_image_folder_layout(folder: Path) -> None:
    data = load_image_folder(folder, size=32)
    assert data.class_names == ("cat", "coffee", "rocket")
    assert data.files == (
        "cat/chelsea.png", "cat/chelsea_p.gif", "cat/chelsea_rgba.PNG",
        "coffee/camera.bmp", "coffee/coffee.jpg",
        "rocket/rocket.tiff", "rocket/sub/rocket.webp",
    )
    assert data.y.tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert data.x.shape == (7, 3, 32, 32) and data.x.dtype == torch.float32
    assert data.y.dtype == torch.int64
    assert float(data.x.min()) >= 0.0 and float(data.x.max()) <= 1.0
    reasons = dict(data.skipped)
    assert set(reasons) == {"coffee/corrupt.png", "coffee/notes.txt", "README.md"}  # no dotfiles
    assert reasons["README.md"] == "not inside a class folder"
    assert reasons["coffee/corrupt.png"].startswith("unreadable image")
    assert reasons["coffee/notes.txt"] == "not an image file (.txt)"
    assert data.source == str(folder)


def test_photo_matches_load_photo_and_grey_is_replicated(folder: Path) -> None:
    data = load_image_folder(folder, size=40)
    chelsea = data.x[data.files.index("cat/chelsea.png")]
    torch.testing.assert_close(chelsea, zoo.load_photo("chelsea", 40), atol=1 / 255, rtol=0)
    camera = data.x[data.files.index("coffee/camera.bmp")]
    assert torch.equal(camera[0], camera[1]) and torch.equal(camera[1], camera[2])


def test_channels_one_and_tuple_size(folder: Path) -> None:
    data = load_image_folder(folder, size=(24, 36), channels=1)
    assert data.x.shape == (7, 1, 24, 36)
    assert float(data.x.min()) >= 0.0 and float(data.x.max()) <= 1.0
    assert float(data.x.std()) > 0.05  # real content, not a constant


def test_rgba_is_composited_onto_white(folder: Path) -> None:
    for channels in (1, 3):
        data = load_image_folder(folder, size=(40, 40), channels=channels)
        img = data.x[data.files.index("cat/chelsea_rgba.PNG")]
        assert torch.all(img[:, :, :20] == 1.0)  # fully transparent red -> white
        assert float(img[:, :, 20:].mean()) < 0.9  # the opaque half keeps the cat


def test_palette_image_is_converted(folder: Path) -> None:
    data = load_image_folder(folder, size=40)
    palette = data.x[data.files.index("cat/chelsea_p.gif")]
    rgb = data.x[data.files.index("cat/chelsea.png")]
    assert float((palette - rgb).abs().mean()) < 0.03  # 256-colour quantisation only


def test_transparent_palette_index_becomes_white(tmp_path: Path) -> None:
    img = Image.new("P", (8, 8), 1)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)  # index 0 black, index 1 red
    img.paste(0, (0, 0, 4, 8))  # left half: index 0, declared transparent
    img.info["transparency"] = 0
    _write(tmp_path / "only" / "p.png", img)
    x = load_image_folder(tmp_path, size=(8, 8)).x[0]
    assert torch.all(x[:, :, :4] == 1.0)
    assert x[:, :, 4:].mean(dim=(1, 2)).tolist() == [1.0, 0.0, 0.0]


def test_sixteen_bit_grey_keeps_its_range(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 65535, 8).astype(np.uint16), (8, 1))
    _write(tmp_path / "deep" / "ramp.png", Image.fromarray(ramp))
    x = load_image_folder(tmp_path, size=(8, 8), channels=3).x[0]
    torch.testing.assert_close(x[1, 0], torch.linspace(0, 1, 8), atol=1e-4, rtol=0)


def _flat(tmp_path: Path, rows: str) -> Path:
    root = tmp_path / "flat"
    _write(root / "a.png", _photo("chelsea"))
    _write(root / "b.jpg", _photo("coffee"))
    _write(root / "c.png", _photo("rocket"))
    _write(root / "d.png", _camera())
    _write(root / "unlisted.png", _camera())
    (root / "labels.csv").write_text("file,label\n" + rows)
    return root


def test_flat_folder_with_string_labels(tmp_path: Path) -> None:
    root = _flat(tmp_path, "a.png,cat\nb.jpg,cup\nc.png, rocket\nd.png,cat\ngone.png,cat\n")
    data = load_image_folder(root, size=16, labels_csv="labels.csv")
    assert data.class_names == ("cat", "cup", "rocket")
    assert data.files == ("a.png", "d.png", "b.jpg", "c.png")
    assert data.y.tolist() == [0, 0, 1, 2]
    assert dict(data.skipped) == {
        "gone.png": "listed in labels.csv but missing",
        "unlisted.png": "not listed in labels.csv",
    }
    # the CSV may also live outside the folder
    outside = tmp_path / "elsewhere.csv"
    outside.write_text((root / "labels.csv").read_text())
    again = load_image_folder(root, size=16, labels_csv=outside)
    assert again.files == data.files and torch.equal(again.x, data.x)


def test_flat_folder_with_integer_labels(tmp_path: Path) -> None:
    root = _flat(tmp_path, "a.png,2\nb.jpg,0\nc.png,02\nd.png,0\nunlisted.png,\n")
    with pytest.warns(UserWarning, match="class '1' .* no readable images"):
        data = load_image_folder(root, size=16, labels_csv=root / "labels.csv")
    assert data.class_names == ("0", "1", "2")
    assert data.files == ("b.jpg", "d.png", "a.png", "c.png")
    assert data.y.tolist() == [0, 0, 2, 2]
    assert dict(data.skipped) == {"unlisted.png": "empty label in labels.csv"}


def test_empty_class_folder_is_kept(folder: Path) -> None:
    (folder / "dog").mkdir()
    with pytest.warns(UserWarning, match="no readable images"):
        data = load_image_folder(folder, size=16)
    assert data.class_names == ("cat", "coffee", "dog", "rocket")
    assert data.y.tolist() == [0, 0, 0, 1, 1, 3, 3]
    # a class folder whose only image is broken is refused, not kept empty
    _write(folder / "empty" / "broken.jpg", b"\xff\xd8 nope")
    with pytest.raises(zoo.UserError, match="class 'empty' .* empty/broken.jpg"):
        load_image_folder(folder, size=16)


@pytest.fixture
def many(tmp_path: Path) -> Path:
    root = tmp_path / "many"
    for k, name in enumerate(("chelsea", "coffee", "rocket")):
        base = np.asarray(_photo(name, 16))
        for i in range(8):
            shifted = np.clip(base.astype(int) + 3 * i, 0, 255).astype(np.uint8)
            _write(root / f"c{k}" / f"{i:02d}.png", Image.fromarray(shifted))
    return root


def test_per_class_sampling_is_seeded(many: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    decode = image_folder.decode_image
    monkeypatch.setattr(image_folder, "decode_image", lambda p, c: calls.append(p) or decode(p, c))
    a = load_image_folder(many, size=16, per_class=3, seed=0)
    assert len(calls) == 9  # only the sampled files are decoded
    assert a.y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    for k in range(3):
        picked = [f for f in a.files if f.startswith(f"c{k}/")]
        assert picked == sorted(picked)
    assert sum(r.startswith("not sampled") for _, r in a.skipped) == 15
    b = load_image_folder(many, size=16, per_class=3, seed=0)
    assert a.files == b.files and torch.equal(a.x, b.x)
    c = load_image_folder(many, size=16, per_class=3, seed=1)
    assert c.files != a.files
    assert len(load_image_folder(many, size=16, per_class=100).files) == 24


def test_per_class_replaces_unreadable_picks(many: Path) -> None:
    for i in range(4):
        _write(many / "c0" / f"bad{i}.png", b"garbage")
    for seed in range(5):
        data = load_image_folder(many, size=16, per_class=8, seed=seed)
        assert data.y.tolist().count(0) == 8  # every readable c0 image, whatever the order


def test_errors_name_the_path(tmp_path: Path, folder: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_image_folder(missing, size=16)
    junk = tmp_path / "junk"
    _write(junk / "a" / "x.png", b"garbage")
    _write(junk / "b" / "y.txt", b"text")
    with pytest.raises(ValueError, match=r"no readable images in .*junk: 2 file\(s\) skipped"):
        load_image_folder(junk, size=16)
    flat = _flat(tmp_path, "a.png,cat\n")
    with pytest.raises(ValueError, match="no class sub-folders in .*flat.*labels_csv"):
        load_image_folder(flat, size=16)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        load_image_folder(flat, size=16, labels_csv="missing.csv")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("name,label\na.png,cat\n", "needs columns 'file' and 'label'"),
        ("file,label\na.png,cat\na.png,dog\n", "lists 'a.png' more than once"),
        ("file,label\ngone.png,cat\n", r"2 file\(s\) skipped"),  # gone + unlisted a.png
    ],
)
def test_bad_labels_csv(tmp_path: Path, text: str, match: str) -> None:
    root = tmp_path / "flat"
    _write(root / "a.png", _photo("chelsea"))
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_image_folder(root, size=16, labels_csv=csv_path)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": 0}, "size must be"),
        ({"size": True}, "size must be"),
        ({"size": 2.5}, "size must be"),
        ({"size": (16,)}, "size must be"),
        ({"size": (16, -1)}, "size must be"),
        ({"size": 16, "channels": 4}, "channels must be 1 or 3"),
        ({"size": 16, "channels": 2}, "channels must be 1 or 3"),
        ({"size": 16, "per_class": 0}, "per_class must be"),
        ({"size": 16, "per_class": 1.5}, "per_class must be"),
        ({"size": 16, "seed": "0"}, "seed must be an int"),
    ],
)
def test_bad_arguments_fail_before_reading(tmp_path: Path, kwargs: dict, match: str) -> None:
    # the root does not exist: the argument error must come first
    with pytest.raises(ValueError, match=match):
        load_image_folder(tmp_path / "nowhere", **kwargs)


@pytest.mark.parametrize(
    ("rows", "classes", "match"),
    [
        # one stray value among digit labels is refused, naming its line and the range
        ("a.png,2\nb.jpg,0\nc.png,-1\n", None, r"line 4: label '-1' is not a class index"),
        ("a.png,2\nb.jpg,56\nc.png,1\n", 10, r"line 3: label '56' .* \(0 to 9\)"),
        # a column of indices and names is never re-read as names sorted as text
        ("a.png,2\nb.jpg,cat\nc.png,1\n", None,
         r"mixes class indices \(line 2: '2'\) and class names \(line 3: 'cat'\)"),
    ],
)
def test_stray_and_mixed_labels_are_refused(tmp_path: Path, rows: str, classes: int | None,
                                            match: str) -> None:
    root = _flat(tmp_path, rows)
    with pytest.raises(zoo.UserError, match=match) as info:
        load_image_folder(root, size=16, labels_csv="labels.csv", num_classes=classes)
    assert "labels.csv" in str(info.value) and "\n" not in str(info.value)


def test_integer_labels_within_the_model_classes_load(tmp_path: Path) -> None:
    root = _flat(tmp_path, "a.png,9\nb.jpg,0\n")
    with pytest.warns(UserWarning, match="no readable images"):
        data = load_image_folder(root, size=16, labels_csv="labels.csv", num_classes=10)
    assert data.class_names == tuple(str(i) for i in range(10)) and data.y.tolist() == [0, 9]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "is empty: it needs a header line 'file,label'"),
        ("file,label\n", "has a header but no rows"),
        ("file,label\ngone.png,cat\nlost.png,dog\n",
         r"3 file\(s\) skipped \(gone.png: listed in labels.csv but missing"),
    ],
)
def test_empty_header_only_and_all_missing_csvs(tmp_path: Path, text: str, match: str) -> None:
    root = tmp_path / "flat"
    _write(root / "a.png", _photo("chelsea"))
    (tmp_path / "labels.csv").write_text(text)
    with pytest.raises(zoo.UserError, match=match):
        load_image_folder(root, size=16, labels_csv=tmp_path / "labels.csv")


def test_non_image_and_zero_byte_folders_are_one_line_user_errors(tmp_path: Path) -> None:
    for name, content in (("texts", b"just text"), ("empty", b"")):
        root = tmp_path / name
        for cls in ("0", "1"):
            _write(root / cls / ("x.txt" if name == "texts" else "x.png"), content)
        with pytest.raises(zoo.UserError, match=r"no readable images .*2 file\(s\) skipped") as e:
            load_image_folder(root, size=16)
        assert "\n" not in str(e.value)
        reason = "not an image file" if name == "texts" else "unreadable image"
        assert reason in str(e.value)
    with pytest.raises(zoo.UserError, match="nowhere") as missing:
        load_image_folder(tmp_path / "nowhere", size=16)
    assert isinstance(missing.value, FileNotFoundError)


def test_a_class_of_only_broken_images_is_refused_naming_one(tmp_path: Path) -> None:
    root = tmp_path / "pics"
    _write(root / "0" / "a.png", _camera())
    _write(root / "1" / "zero.png", b"")
    with pytest.raises(zoo.UserError, match=r"class '1' in .*pics has no readable image: "
                                            r"1/zero.png: unreadable image"):
        load_image_folder(root, size=16)
    (root / "2").mkdir()  # an empty class folder is still kept, with a warning
    (root / "1" / "zero.png").unlink()
    with pytest.warns(UserWarning, match="no readable images"):
        assert load_image_folder(root, size=16).class_names == ("0", "1", "2")
