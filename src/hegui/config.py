"""One configuration model: a YAML file, overridable by ``HEGUI_*`` environment variables.

Defaults work with no file at all. Nested keys are reached from the environment with a double
underscore: ``HEGUI_GUARD__MAX_CHARS=200000``. Each surface (gateway, scan, labels…) owns a section
model in its own module and adds one field here.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from hegui.assess.settings import AssessConfig
from hegui.audit.config import AuditConfig
from hegui.complaints.config import ComplaintsConfig
from hegui.console.config import ConsoleConfig
from hegui.datascan.config import ScanConfig
from hegui.enforcement.config import EnforcementConfig
from hegui.gateway.config import GatewayConfig
from hegui.identity.config import IdentityConfig
from hegui.labels.config import LabelsConfig
from hegui.notices.config import NoticesConfig
from hegui.store.config import StoreConfig
from hegui.usage.config import UsageConfig

CONFIG_ENV = "HEGUI_CONFIG"


class KeywordsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Your own lexicon files (.txt or .yaml, the shipped library's format; docs/keywords.md).
    extra: list[Path] = Field(default_factory=list)
    # Allow-lists: one phrase per line; a keyword inside an occurrence of one is not reported.
    allow: list[Path] = Field(default_factory=list)
    # Load the shipped library (src/hegui/data/keywords); false = only your `extra` lists.
    use_default_library: bool = True
    # Where the compiled matcher is cached (default: $HEGUI_CACHE_DIR or ~/.cache/hegui).
    cache_dir: Path | None = None
    # auto (hyperscan where installed), hyperscan, or ahocorasick. See docs/keywords.md.
    backend: Literal["auto", "hyperscan", "ahocorasick"] = "auto"


class PiiConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Recogniser names to disable, e.g. ["person_name"].
    disabled: list[str] = Field(default_factory=list)
    min_score: float = 0.5


class GuardConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Detector names from the registry, run in this order.
    detectors: list[str] = Field(default_factory=lambda: ["keywords", "pii", "classifier"])
    # Per-detector options, by detector name.
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Texts longer than this are refused with a clear error instead of being checked slowly.
    max_chars: int = 2_000_000


class Settings(BaseSettings):
    """All of hegui's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="HEGUI_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    # A preset name (draft-2023, interim-2023) or the path of a policy YAML file.
    policy: str = "draft-2023"
    # Key for keyed hashes (pseudonymous user ids, hash redaction). Set it in production; the default
    # is derived per installation under var/ so hashes are stable on one machine.
    secret_key: SecretStr | None = None
    # Where hegui keeps its files: the SQLite store, secret.key, admin.key, caches.
    var_dir: Path = Path("var")
    guard: GuardConfig = Field(default_factory=GuardConfig)
    keywords: KeywordsConfig = Field(default_factory=KeywordsConfig)
    pii: PiiConfig = Field(default_factory=PiiConfig)
    assess: AssessConfig = Field(default_factory=AssessConfig)
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    usage: UsageConfig = Field(default_factory=UsageConfig)
    enforcement: EnforcementConfig = Field(default_factory=EnforcementConfig)
    complaints: ComplaintsConfig = Field(default_factory=ComplaintsConfig)
    notices: NoticesConfig = Field(default_factory=NoticesConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    labels: LabelsConfig = Field(default_factory=LabelsConfig)
    scan: ScanConfig = Field(default_factory=ScanConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit arguments win, then the environment, then the YAML file.
        return init_settings, env_settings, _YamlSource(settings_cls)

    def key_bytes(self) -> bytes:
        """The secret key as bytes, creating and keeping a random one under var/ if none was set."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode("utf-8")
        return installation_key(self.var_dir / "secret.key")


class ConfigError(ValueError):
    """A configuration file that cannot be used, with the reason in words."""


_KEY_WAIT_S = 2.0


def installation_key(path: Path) -> bytes:
    """The key kept in ``path``, created on first use; safe when several processes start at once.

    Why not "create if missing": two workers starting together both saw no file, and the slower one
    failed with FileExistsError (or, worse, read the file before the winner had written it). The
    key is written to a private temporary file first and then hard-linked into place, which
    either succeeds atomically (we won) or fails with FileExistsError (another process won: read
    its key). A reader never sees a half-written key; an empty file left by an older version that
    crashed mid-write is waited for briefly, then reported as a clear error.
    """
    try:
        return _read_key(path, wait=True)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32).hex()
    fd, tmp = tempfile.mkstemp(prefix=".secret.key.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)
    except FileExistsError:
        return _read_key(path, wait=True)
    except OSError:
        # A file system without hard links: exclusive create, then write (readers wait for it).
        try:
            fd2 = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _read_key(path, wait=True)
        with os.fdopen(fd2, "w") as fh:
            fh.write(key)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return key.encode("utf-8")


def _read_key(path: Path, *, wait: bool) -> bytes:
    """The stripped key in ``path``; an empty file is waited for (another process is writing it)."""
    deadline = time.monotonic() + (_KEY_WAIT_S if wait else 0.0)
    while True:
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key.encode("utf-8")
        if time.monotonic() >= deadline:
            raise ConfigError(
                f"{path} is empty (a key file left half-written?): delete it to create a new key, "
                "or set HEGUI_SECRET_KEY"
            )
        time.sleep(0.01)


class _YamlSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get(CONFIG_ENV)
        return read_yaml_config(Path(path)) if path else {}


def read_yaml_config(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from ``path`` (or ``$HEGUI_CONFIG``), the environment and ``overrides``."""
    try:
        if path is not None:
            data = read_yaml_config(Path(path))
            data.update(overrides)
            # The environment still wins over the file.
            return Settings(**_env_over_file(data))
        return Settings(**overrides)
    except ValidationError as e:
        raise ConfigError(f"invalid configuration: {e}") from None


def _env_over_file(data: dict[str, Any]) -> dict[str, Any]:
    """Drop file keys that an HEGUI_* variable sets, so the environment wins over the file."""
    prefix = "HEGUI_"
    env_keys = {k[len(prefix) :].split("__")[0].lower() for k in os.environ if k.startswith(prefix)}
    return {k: v for k, v in data.items() if k not in env_keys}
