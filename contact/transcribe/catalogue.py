"""The pinned catalogue of speech models `contact models install LANG` downloads.

One official Vosk model per language (Apache-2.0, from https://alphacephei.com/vosk/models),
served as `<base_url>/<name>.zip`; the base URL is `CONTACT_MODELS_BASE_URL` or `--from URL`,
so a deployment can mirror the same files on its own network.

What was verified, honestly: the names and the approximate sizes come from the Vosk project's
model list as recorded in the project's speech notes; the machines this was written on cannot
reach that site, so NO archive was downloaded here and no checksum below has been computed by
this project. A `sha256` of None means "not pinned yet": the first install records the archive's
SHA-256 in `<models dir>/checksums.json` and prints it (trust on first use), and every later
install of that name must match it. Pin a checksum here once it has been checked against a
download made on a machine that reaches the site (`sha256sum <name>.zip`); from then on every
install verifies it.
"""

from __future__ import annotations

from dataclasses import dataclass

MB = 1000 * 1000


@dataclass(frozen=True, slots=True)
class CatalogueModel:
    language: str  # the language code contact uses (kk, ru)
    name: str  # the Vosk model's name: the archive is `<name>.zip`, unpacking to `<name>/`
    approx_bytes: int  # the model list's rounded size: for messages only, never verified
    max_bytes: int  # a download growing past this is refused (a wrong or hostile file)
    sha256: str | None  # None: not pinned yet (see above); recorded on first install

    @property
    def file_name(self) -> str:
        return f"{self.name}.zip"

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/{self.file_name}"


CATALOGUE: dict[str, CatalogueModel] = {
    "ru": CatalogueModel(
        language="ru",
        name="vosk-model-small-ru-0.22",
        approx_bytes=45 * MB,  # "45M" on the model list; not verified here
        max_bytes=256 * MB,
        sha256=None,  # not pinned: never downloaded on a machine of this project
    ),
    "kk": CatalogueModel(
        language="kk",
        name="vosk-model-small-kz-0.42",  # Vosk names Kazakh "kz"; contact uses ISO 639-1 "kk"
        approx_bytes=58 * MB,  # "58M" on the model list; not verified here
        max_bytes=256 * MB,
        sha256=None,  # not pinned: never downloaded on a machine of this project
    ),
}


def entry(language: str) -> CatalogueModel | None:
    return CATALOGUE.get(language)
