"""zoo.load_class_names: .txt and .json class-name files, each rule on a real file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import zoo
from zoo import load_class_names


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _json(path: Path, data: object) -> Path:
    return _write(path, json.dumps(data))


# ---- .txt ----


def test_txt_one_name_per_line_stripped(tmp_path: Path) -> None:
    path = _write(tmp_path / "names.txt", "  cat\t\ndog  \r\ngolden retriever\n")
    assert load_class_names(path) == ("cat", "dog", "golden retriever")
    assert load_class_names(str(path)) == ("cat", "dog", "golden retriever")
    assert zoo.load_class_names is load_class_names


def test_txt_comments_skipped_and_trailing_blanks_ignored(tmp_path: Path) -> None:
    text = "# classes of the toy set\ncat\n  # a comment between names\ndog\n\n   \n\n"
    assert load_class_names(_write(tmp_path / "names.txt", text)) == ("cat", "dog")


def test_txt_byte_order_mark_is_not_part_of_the_first_name(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_bytes("\ufeffcat\ndog\n".encode())
    assert load_class_names(path) == ("cat", "dog")


@pytest.mark.parametrize(
    "text, line",
    [("cat\n\ndog\n", 2), ("cat\n   \n# comment\ndog\n", 2), ("\ncat\ndog\n", 1)],
)
def test_txt_blank_line_before_a_name_names_file_and_line(
    tmp_path: Path, text: str, line: int
) -> None:
    path = _write(tmp_path / "names.txt", text)
    with pytest.raises(ValueError, match=rf"line {line} is blank") as err:
        load_class_names(path)
    assert str(path) in str(err.value)


# ---- .json ----


def test_json_list(tmp_path: Path) -> None:
    assert load_class_names(_json(tmp_path / "n.json", ["cat", "dog", "fox"])) == (
        "cat", "dog", "fox",
    )


def test_json_index_object_in_any_key_order(tmp_path: Path) -> None:
    path = _json(tmp_path / "n.json", {"2": "fox", "0": "cat", "1": "dog"})
    assert load_class_names(path) == ("cat", "dog", "fox")


def test_json_torchvision_keras_style(tmp_path: Path) -> None:
    data = {"1": ["n01443537", "goldfish"], "0": ["n01440764", "tench"], "2": ["shark"]}
    assert load_class_names(_json(tmp_path / "imagenet_class_index.json", data)) == (
        "tench", "goldfish", "shark",
    )


@pytest.mark.parametrize(
    "data, message",
    [
        ({"0": "cat", "1": "dog", "3": "fox"}, "missing index 2, extra index 3"),
        ({"1": "cat", "2": "dog"}, "missing index 0, extra index 2"),
        ({"0": "cat", "x": "dog"}, "key 'x' is not a class index"),
        ({"0": "cat", "-1": "dog"}, "key '-1' is not a class index"),
        ({"0": "cat", "1": "dog", "01": "fox"}, "index 1 appears twice"),
    ],
)
def test_json_object_must_cover_every_index_once(
    tmp_path: Path, data: dict[str, str], message: str
) -> None:
    path = _json(tmp_path / "n.json", data)
    with pytest.raises(ValueError, match=message) as err:
        load_class_names(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    "data, message",
    [
        (["cat", 3], "index 1 is not a string: 3"),
        (["cat", None], "index 1 is not a string: None"),
        ({"0": "cat", "1": ["n01", 7]}, "index 1 is not a string: 7"),
        ({"0": "cat", "1": []}, r"index 1 is not a string: \[\]"),
        (["cat", "   "], "the name for index 1 is empty"),
        ("cat", "must hold a JSON list of names or an object"),
    ],
)
def test_json_names_must_be_strings(tmp_path: Path, data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_class_names(_json(tmp_path / "n.json", data))


def test_json_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "n.json", '["cat", "dog"')
    with pytest.raises(ValueError, match="is not valid JSON") as err:
        load_class_names(path)
    assert str(path) in str(err.value)


# ---- rules for both formats ----


@pytest.mark.parametrize(
    "name, text",
    [
        ("n.txt", "cat\ndog\ncat\n"),
        ("n.json", '["cat", "dog", "cat"]'),
        ("n.json", '{"0": ["n1", "cat"], "1": ["n2", "dog"], "2": ["n3", "cat"]}'),
    ],
)
def test_duplicate_names_are_refused(tmp_path: Path, name: str, text: str) -> None:
    with pytest.raises(ValueError, match="duplicate name 'cat' for indices 0 and 2"):
        load_class_names(_write(tmp_path / name, text))


@pytest.mark.parametrize(
    "name, text",
    [("n.txt", ""), ("n.txt", "# only a comment\n\n\n"), ("n.json", "[]"), ("n.json", "{}")],
)
def test_empty_files_are_refused(tmp_path: Path, name: str, text: str) -> None:
    with pytest.raises(ValueError, match="holds no class names"):
        load_class_names(_write(tmp_path / name, text))


def test_num_classes_must_match(tmp_path: Path) -> None:
    path = _write(tmp_path / "names.txt", "cat\ndog\nfox\n")
    assert load_class_names(path, num_classes=3) == ("cat", "dog", "fox")
    with pytest.raises(ValueError, match="has 3 names, num_classes is 10"):
        load_class_names(path, num_classes=10)


@pytest.mark.parametrize("num_classes", [0, -1, 2.0, True, "3"])
def test_bad_num_classes_fails_before_reading(tmp_path: Path, num_classes: object) -> None:
    with pytest.raises(ValueError, match="num_classes must be None or a positive int"):
        load_class_names(tmp_path / "missing.txt", num_classes=num_classes)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["names.csv", "names", "names.yaml"])
def test_other_suffixes_are_refused(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / name, "cat\ndog\n")
    with pytest.raises(ValueError, match=r"must end in \.txt or \.json"):
        load_class_names(path)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "names.txt"
    with pytest.raises(FileNotFoundError, match="class names file not found") as err:
        load_class_names(path)
    assert str(path) in str(err.value)


def test_not_utf8_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_bytes(b"cat\n\xff\xfe\xfa\n")
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        load_class_names(path)


def test_suffix_is_case_insensitive(tmp_path: Path) -> None:
    assert load_class_names(_write(tmp_path / "NAMES.TXT", "cat\ndog\n")) == ("cat", "dog")
    assert load_class_names(_json(tmp_path / "names.JSON", ["cat", "dog"])) == ("cat", "dog")


def test_problems_are_user_errors(tmp_path: Path) -> None:
    from zoo.errors import UserError

    with pytest.raises(UserError, match="class names file not found") as missing:
        load_class_names(tmp_path / "names.txt")
    assert isinstance(missing.value, FileNotFoundError)
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(UserError, match=r"dir\.txt cannot be read"):
        load_class_names(tmp_path / "dir.txt")
    with pytest.raises(UserError, match="duplicate name 'cat'"):
        load_class_names(_write(tmp_path / "twice.txt", "cat\ncat\n"))
