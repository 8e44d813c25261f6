"""The `openai` backend: any OpenAI-compatible chat-completions endpoint, through the `openai`
client (vLLM, TGI, Ollama, a llama.cpp server, `transformers serve`, a hosted API).

    backend:
      kind: openai
      base_url: http://127.0.0.1:8000/v1
      model: my-finetune            # the served model id
      api_key_env: MY_API_KEY       # the NAME of the environment variable holding the key

The key is read from the environment when a request is sent and is never written anywhere: not
in the cache key (base URL, model id, generation settings), the run record, the report or a
log line. Requests are greedy (temperature 0) with the suite's `max_new_tokens` and stop
strings (also cut on this side, as the local engine does, in case a server ignores them).

A client that production teams can leave running: at most `concurrency` requests in flight,
a timeout per request, retries with exponential backoff and full jitter on 429, 5xx,
connection errors, timeouts and malformed responses, honouring `Retry-After`; then a RunError
(exit 3) naming the endpoint and the last error. A failed request is never cached and never
scored as a wrong answer: finished outputs are handed to the caller (which caches them) as
they arrive, and the run stops at the first request that cannot be completed.

Log-probs: chat endpoints differ in whether and how they return them (`transformers serve`
refuses the field), so this backend does not score log-likelihoods; suites that need them (the
capability and leakage kinds) say INCONCLUSIVE with that reason for an endpoint candidate.
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from evalgate.errors import ConfigError, RunError
from evalgate.systems.backends.base import BackendKind, Message, OnDone, OnResult
from evalgate.util.yamlio import StrictModel

BACKEND_VERSION = "openai-chat-1"  # bump when the request or the reading of replies changes
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_RETRY_AFTER_S = 300.0


class OpenAIConfig(StrictModel):
    kind: Literal["openai"]
    base_url: str = Field(description="the endpoint's base URL, e.g. http://127.0.0.1:8000/v1")
    model: str = Field(min_length=1, description="the served model id")
    api_key_env: str | None = Field(
        None, description="name of the environment variable that holds the API key (never the "
                          "key itself); none for servers that need no key")
    concurrency: int = Field(4, ge=1, le=256, description="requests in flight at once")
    timeout_s: float = Field(120.0, gt=0, description="seconds per request")
    max_retries: int = Field(5, ge=0, le=50, description="retries of a failed request")
    backoff_s: float = Field(1.0, gt=0, description="first retry delay; doubles per retry")
    max_backoff_s: float = Field(30.0, gt=0, description="longest delay between retries")
    context_window: int | None = Field(
        None, ge=16, description="the served model's window in tokens: with it, prompts are "
                                 "measured here and the suite's `on_long_input` applies before "
                                 "any request, as for a local model")
    tokenizer: str | None = Field(
        None, min_length=1, description="the model whose tokenizer and chat template measure "
                                        "prompts (alias, folder or hub id); default: the "
                                        "project's base model")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL, e.g. http://127.0.0.1:8000/v1")
        return value.rstrip("/")

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_NAME.match(value):
            raise ValueError("must be the NAME of an environment variable (e.g. OPENAI_API_KEY), "
                             "never the key itself: export the key and name the variable here")
        return value


class EndpointFailure(Exception):
    """One request that could not be completed; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None
                 ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class _Stopped(Exception):
    """A queued request not sent because the run already failed."""


class OpenAIBackend:
    kind: ClassVar[str] = "openai"
    scores_logprobs: ClassVar[bool] = False

    def __init__(self, system: Any, pool: Any = None, *, sleep: Callable[[float], None] | None = None
                 ) -> None:
        self.system = system
        self.pool = pool
        self.config: OpenAIConfig = system.config.backend
        self._warned: set[str] = set()
        self._sleep = sleep or time.sleep
        self._client_lock = threading.Lock()
        self._client: Any = None
        self._stop = threading.Event()  # set when a run fails: queued requests are not sent

    @property
    def where(self) -> str:
        return f"{self.config.base_url} (model {self.config.model})"

    def identity(self) -> dict[str, Any]:
        return {"backend": self.kind, "base_url": self.config.base_url,
                "served_model": self.config.model, "engine": BACKEND_VERSION}

    def describe(self) -> dict[str, Any]:
        return {"ref": self.config.model, "identity": f"{self.config.base_url}#{self.config.model}",
                "source": "endpoint", "backend": self.kind, "base_url": self.config.base_url,
                "served_model": self.config.model, "engine": BACKEND_VERSION}

    def render(self, messages: Sequence[Message]) -> str:
        """The messages as canonical JSON: the server applies its own chat template."""
        return json.dumps(list(messages), ensure_ascii=False, sort_keys=True,
                          separators=(",", ":"))

    def fit(self, suite: Any, inputs: Sequence[str], prompts: list[str],
            rebuild: Callable[[int, str], str], max_new_tokens: int) -> list[Any]:
        """`on_long_input` on an endpoint: only the server knows its window, so prompts are
        measured here only when the system says the window (`context_window`), with a local
        tokenizer and chat template (`tokenizer`, default the project's base model). Without
        it every prompt is sent whole and an over-long one fails at the server (exit 3); a
        suite that asks for `truncate` is told so rather than silently not cut."""
        if self.config.context_window is None:
            if suite.config.on_long_input == "truncate":
                self._warn_once(
                    f"suite '{suite.name}' sets `on_long_input: truncate`, but system "
                    f"'{self.system.name}' runs on the endpoint {self.where}, whose window "
                    "evalgate cannot read: inputs are sent whole, and the server refuses (exit "
                    "3) or cuts any that do not fit. To cut them here, set "
                    "`backend.context_window:` (the served window in tokens) in "
                    f"{self.system.path}, and `backend.tokenizer:` if the served model is not "
                    "the project's base model.")
            return []
        from evalgate.eval.lengths import fit_prompts
        from evalgate.models.chat import render_chat

        pool = self.pool
        tokenizer = pool.tokenizer(pool.resolved(self.config.tokenizer
                                                 or pool.project.config.model.base))

        def count(text: str) -> int:
            return len(tokenizer(text, add_special_tokens=False)["input_ids"])

        def cut(text: str, keep: int) -> str:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"][:keep]
            return tokenizer.decode(ids, skip_special_tokens=True)

        def chat_text(prompt: str) -> str:
            return render_chat(tokenizer, json.loads(prompt))

        rebuilt: dict[int, str] = {}

        def rebuild_text(index: int, text: str) -> str:
            rebuilt[index] = rebuild(index, text)
            return chat_text(rebuilt[index])

        texts = [chat_text(prompt) for prompt in prompts]
        cuts = fit_prompts(suite, inputs, texts, count, rebuild_text, cut,
                           self.config.context_window, max_new_tokens)
        for truncation in cuts:
            prompts[truncation.index] = rebuilt[truncation.index]
        return cuts

    def _warn_once(self, text: str) -> None:
        if text in self._warned:
            return
        self._warned.add(text)
        from rich.markup import escape

        from evalgate.util.terminal import make_console

        make_console(stderr=True).print(f"[bold yellow]warning:[/] {escape(text)}",
                                        highlight=False)

    # -- generation ------------------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], params: Any, *, on_done: OnDone = None,
                 on_result: OnResult = None) -> list[Any]:
        """Every prompt (as `render` wrote it) answered, at most `concurrency` at once. Each
        finished answer goes to `on_result` at once; the first request that fails for good
        stops the run (pending ones are cancelled, running ones finish and are kept)."""
        conversations = [json.loads(prompt) for prompt in prompts]
        results: list[Any] = [None] * len(conversations)
        self.client()  # the key is checked before any request is sent
        self._stop.clear()
        failure: BaseException | None = None
        with ThreadPoolExecutor(self.config.concurrency,
                                thread_name_prefix="evalgate-endpoint") as executor:
            futures: dict[Future, int] = {
                executor.submit(self.complete, messages, params): index
                for index, messages in enumerate(conversations)}
            pending = set(futures)
            try:
                while pending and failure is None:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        error = future.exception()
                        if isinstance(error, _Stopped):
                            continue  # not sent: the failure that stopped it is reported
                        if error is not None:
                            failure = failure or error
                            self._stop.set()
                            continue
                        self._deliver(futures[future], future.result(), results, on_done,
                                      on_result)
            except BaseException as exc:  # noqa: BLE001 -- Ctrl-C: stop sending, keep what finished
                failure = exc
                self._stop.set()
            if failure is not None:
                for future in pending:
                    future.cancel()
                for future in pending:
                    if not future.cancelled() and future.exception() is None:
                        self._deliver(futures[future], future.result(), results, on_done,
                                      on_result)
        if failure is not None:
            raise failure
        return results

    @staticmethod
    def _deliver(index: int, generation: Any, results: list[Any], on_done: OnDone,
                 on_result: OnResult) -> None:
        results[index] = generation
        if on_result is not None:
            on_result(index, generation)
        if on_done is not None:
            on_done(1)

    def complete(self, messages: Sequence[Message], params: Any) -> Any:
        """One chat completion, retried as the policy says; RunError when it cannot be had."""
        attempts = self.config.max_retries + 1
        last: EndpointFailure | None = None
        for attempt in range(attempts):
            if self._stop.is_set():
                raise _Stopped()
            try:
                return self._request(messages, params)
            except EndpointFailure as failure:
                last = failure
                if not failure.retryable or attempt == attempts - 1:
                    break
                self._sleep(self._delay(attempt, failure.retry_after))
        assert last is not None
        self._stop.set()  # set here, not by the caller: no queued request starts after this
        tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}" if last.retryable \
            else "(not retried)"
        raise RunError(f"endpoint {self.where} failed {tries}: {last}\n  fix: "
                       f"{_fix_for(str(last), self.config)}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), MAX_RETRY_AFTER_S)
        ceiling = min(self.config.max_backoff_s, self.config.backoff_s * 2 ** attempt)
        return random.uniform(ceiling / 2, ceiling)  # jitter: clients that failed together
        # do not retry together

    def client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                import openai

                self._client = openai.OpenAI(base_url=self.config.base_url,
                                             api_key=self._api_key(), max_retries=0,
                                             timeout=self.config.timeout_s)
            return self._client

    def _api_key(self) -> str:
        name = self.config.api_key_env
        if name is None:
            return "not-needed"  # the client insists on a string; local servers ignore it
        value = os.environ.get(name)
        if not value:
            raise ConfigError(
                f"the environment variable {name} is not set (it should hold the API key of "
                f"{self.config.base_url})", path=self.system.path, key="backend.api_key_env",
                fix=f"export {name}=<your key> before running evalgate")
        return value

    def _request(self, messages: Sequence[Message], params: Any) -> Any:
        import openai

        request: dict[str, Any] = {"model": self.config.model, "messages": list(messages),
                                   "temperature": 0.0, "max_tokens": params.max_new_tokens}
        if params.stop:
            request["stop"] = list(params.stop)[:4]  # the API's limit; the rest are cut here
        try:
            response = self.client().chat.completions.create(**request)
        except openai.APIStatusError as exc:
            status = exc.status_code
            retryable = status in (408, 409, 429) or status >= 500
            raise EndpointFailure(f"HTTP {status}: {_message(exc)}", retryable=retryable,
                                  retry_after=_retry_after(exc.response)) from exc
        except openai.APITimeoutError as exc:
            raise EndpointFailure(f"no answer within {self.config.timeout_s:g} s (timeout)",
                                  retryable=True) from exc
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise EndpointFailure(f"connection failed: {cause}", retryable=True) from exc
        except (openai.APIResponseValidationError, ValueError) as exc:  # ValueError: not JSON
            raise EndpointFailure(f"malformed response: {str(exc)[:200]}", retryable=True
                                  ) from exc
        return _generation(response, params)


def _generation(response: Any, params: Any) -> Any:
    """The engine's Generation from a chat completion, or a retryable EndpointFailure when the
    reply is not one (no choices, no text): never an empty answer scored as wrong."""
    from evalgate.models.engine import Generation

    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise EndpointFailure(f"malformed response (no choices): {str(response)[:200]}",
                              retryable=True)
    message = getattr(choices[0], "message", None)
    text = getattr(message, "content", None)
    if not isinstance(text, str):
        raise EndpointFailure(f"malformed response (no message text): {str(choices[0])[:200]}",
                              retryable=True)
    reason = getattr(choices[0], "finish_reason", None)
    finish = "length" if reason == "length" else "stop" if params.stop else "eos"
    cuts = [text.find(stop) for stop in params.stop if stop in text]
    if cuts:
        text, finish = text[:min(cuts)], "stop"
    usage = getattr(response, "usage", None)
    return Generation(text=text, prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                      new_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                      finish_reason=finish)


def _message(exc: Any) -> str:
    """The server's own reason: OpenAI's `{"error": {"message"}}`, or FastAPI's `{"detail"}`
    (`transformers serve`, e.g. "The prompt has 911 tokens, but the model takes at most 512")."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body))
        text = error.get("message") if isinstance(error, dict) else error
        if text:
            return str(text)[:300]
    return str(getattr(exc, "message", exc))[:300]


def _retry_after(response: Any) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP date) or `retry-after-ms`."""
    headers = getattr(response, "headers", None) or {}
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return float(value) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def _fix_for(error: str, config: OpenAIConfig) -> str:
    if error.startswith(("HTTP 401", "HTTP 403")):
        return (f"check the key in ${config.api_key_env}" if config.api_key_env else
                "the endpoint wants a key: set `backend.api_key_env` to the name of the "
                "environment variable that holds it")
    if error.startswith("HTTP 404"):
        return f"check `backend.base_url` and that the server serves model '{config.model}'"
    if error.startswith(("HTTP 400", "HTTP 422")):
        return ("the server refused the request: check `backend.model`, and that the prompt "
                "fits its context window")
    if error.startswith("connection failed"):
        return (f"start the server or correct `backend.base_url` ({config.base_url}); finished "
                "outputs are cached, so the next run resumes")
    return ("try again later or raise `backend.max_retries` / `backend.timeout_s`; finished "
            "outputs are cached, so the next run resumes")


OPENAI = BackendKind(name="openai", config=OpenAIConfig, build=OpenAIBackend)
