"""The ``assess`` section of the configuration: what only the provider knows, for reports and filing."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AssessConfig(BaseModel):
    """Facts about the service that go into the assessment report and the filing materials.

    Empty fields show as "needs evidence / 待补充" in the documents rather than being invented.
    """

    model_config = ConfigDict(extra="forbid")

    provider: str = ""  # 服务提供者名称
    service_name: str = ""  # 服务名称
    service_type: str = ""  # e.g. 文本生成 / 对话
    base_model: str = ""  # the foundation model built on
    base_model_filing_no: str = ""  # its filing (备案) number; empty means not shown
    model_name: str = ""  # the service's own model name
    algorithm_description: str = ""  # 算法基本原理
    intended_users: str = ""  # 服务对象
    minors_served: bool | None = None  # None: not stated
    complaint_channel: str = ""  # 投诉举报入口
    complaint_time_limit_days: int | None = None  # 反馈时限
    monitoring_staff: int | None = None  # 监看人员
    training_on_user_input: bool | None = None
    opt_out_clicks: int | None = None  # clicks from the main UI to the opt-out (TC260: ≤ 4)
    retention_days: int | None = None  # log retention
    labels_explicit: bool | None = None  # explicit AIGC labels shown
    labels_implicit: bool | None = None  # implicit metadata labels written
    evidence: dict[str, str] = Field(default_factory=dict)  # clause id → where the evidence is
