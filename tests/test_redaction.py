"""Redaction corpus: every secret shape from issue 4 item 5 is masked; look-alikes survive unchanged."""

from __future__ import annotations

import pytest

from handlers.redact import MASK, redact
from tests.redaction_corpus import GHP, KEY_BODY, PEM_CASES, SECRET_CASES, SURVIVORS


@pytest.mark.parametrize(
    ("text", "secret"), [(t, s) for _, t, s in SECRET_CASES], ids=[i for i, _, _ in SECRET_CASES]
)
def test_every_secret_shape_is_masked(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert MASK in out


@pytest.mark.parametrize("template", PEM_CASES)
def test_private_keys_are_masked_whole(template: str) -> None:
    out = redact("before\n" + template.format(body=KEY_BODY) + "\nafter")
    assert "MIIEowIBAAKCAQEA" not in out and MASK in out
    assert out.startswith("before\n")


@pytest.mark.parametrize("text", SURVIVORS)
def test_look_alikes_survive_unchanged(text: str) -> None:
    assert redact(text) == text


def test_context_around_a_secret_is_kept() -> None:
    assert redact(f"step 3: pushing with {GHP} to ghcr.io") == f"step 3: pushing with {MASK} to ghcr.io"
    assert redact("password=hunter2 user=admin") == f"password={MASK} user=admin"
    assert redact("https://robot:hunter2hunter2@registry.example.com/v2/") == (
        f"https://robot:{MASK}@registry.example.com/v2/"
    )
    assert redact("https://u:p@ss@host/x and mail me@example.com") == (
        f"https://u:{MASK}@host/x and mail me@example.com"
    )
    assert redact("password=ab user=admin") == f"password={MASK} user=admin"


def test_redaction_is_idempotent_over_the_whole_corpus() -> None:
    corpus = "\n".join(t for _, t, _ in SECRET_CASES) + "\n" + "\n".join(SURVIVORS)
    once = redact(corpus)
    assert redact(once) == once


def test_a_long_log_full_of_look_alikes_comes_back_unchanged() -> None:
    text = ("\n".join(SURVIVORS) + "\n") * 2000  # ~2.5 MB: no false positive anywhere, at log scale
    assert redact(text) == text
