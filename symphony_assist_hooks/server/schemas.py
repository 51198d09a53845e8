"""The request and response bodies of the HTTP API (pydantic; untrusted input is frozen and forbids extras).

Constraints go before an `AfterValidator`: after it, pydantic cannot show them in the JSON schema.
The template names in the schema are filled in at start-up (routes.document_templates).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..assistant.provider.openai import ChatRequest

__all__ = [
    "CompleteIn",
    "CompletionOut",
    "ErrorBody",
    "ErrorDetail",
    "FieldError",
    "FindingOut",
    "HealthOut",
    "JsonSchemaSpec",
    "KeyOut",
    "ModelsOut",
    "QueryIn",
    "QueryOut",
    "ReviewIn",
    "ReviewOut",
    "SwitchKeyIn",
    "SwitchKeyOut",
    "TemplateOut",
    "TemplatesOut",
    "Usage",
]


def _text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


Text = Annotated[str, AfterValidator(_text)]
Prompt = Annotated[str, Field(min_length=1), AfterValidator(_text)]
Model = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_text)]
Temperature = Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)]
MaxTokens = Annotated[int, Field(ge=1, le=100_000)]
TemplateName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QueryIn(_In):
    prompt: Prompt
    model: Model | None = None
    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None
    metadata: dict[str, Any] | None = Field(default=None, description="the caller's; used for nothing")
    template: TemplateName | None = Field(default=None, description="a template name (default: general)")
    context: Text | dict[str, Text] | None = Field(default=None, description="appended to the prompt")


class Usage(BaseModel):
    total_tokens: int
    prompt_tokens: int
    completion_tokens: int


class QueryOut(BaseModel):
    model: str
    content: str
    usage: Usage
    cached: bool


class SwitchKeyIn(_In):
    key: Literal["primary", "secondary"]


class SwitchKeyOut(BaseModel):
    active: str
    key_hint: str | None


class KeyOut(BaseModel):
    alias: str
    key_hint: str | None
    configured: bool
    active: bool


class ModelsOut(BaseModel):
    models: list[str]
    active_key: str | None
    keys: list[KeyOut]
    primary_model: str
    fallback_model: str
    error: str | None = None


class JsonSchemaSpec(_In):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool = True
    description: Text | None = None


class CompleteIn(_In):
    system: Text
    user: Prompt
    model: Model
    temperature: Temperature
    max_tokens: MaxTokens
    json_schema: JsonSchemaSpec | None = None

    def chat(self) -> ChatRequest:
        spec: dict[str, Any] | None = None
        if self.json_schema is not None:
            s = self.json_schema
            spec = {"name": s.name, "schema": s.schema_, "strict": s.strict}
            if s.description:
                spec["description"] = s.description
        return ChatRequest(self.system, self.user, self.model, self.temperature, self.max_tokens, spec)


class CompletionOut(BaseModel):
    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    finish_reason: str
    key_alias: str
    attempts: int
    latency: float
    cached: bool


class ReviewIn(_In):
    diff: Annotated[
        str,
        Field(pattern=r"(^|\n)diff --git ", description="`git diff` output (with diff --git headers)"),
        AfterValidator(_text),
    ]
    templates: Annotated[list[TemplateName], Field(min_length=1, max_length=10)] | None = None
    model: Model | None = None
    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None


class FindingOut(BaseModel):
    path: str
    line: int
    end_line: int
    severity: str
    rule: str
    title: str
    message: str
    suggestion: str
    source: str
    template: str
    fingerprint: str


class ReviewOut(BaseModel):
    findings: list[FindingOut]
    files: int
    hunks: int
    cache_hits: int
    api_requests: int
    local_answers: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    saved_usd: float
    redactions: int
    dropped: int
    suppressed: int
    fallback_reason: str | None
    skipped: dict[str, int]
    notices: list[str]
    cached: bool


class TemplateOut(BaseModel):
    name: str
    kind: str
    description: str
    source: str


class TemplatesOut(BaseModel):
    templates: list[TemplateOut]


class HealthOut(BaseModel):
    status: str
    version: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    upstream_status: int | None = None
    fields: list[FieldError] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
