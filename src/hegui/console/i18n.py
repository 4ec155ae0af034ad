"""The console's message catalogue: zh-CN (default) and English.

One table, key → (zh-CN, English), so a missing translation is a KeyError in the tests rather than
a page in the wrong language.
"""

from __future__ import annotations

LANGS = ("zh", "en")
HTML_LANG = {"zh": "zh-CN", "en": "en"}

MESSAGES: dict[str, tuple[str, str]] = {
    "app": ("合规 hegui 管理控制台", "hegui console"),
    "skip": ("跳到正文", "Skip to content"),
    "nav": ("主导航", "Main navigation"),
    "overview": ("概览", "Overview"),
    "complaints": ("投诉处理", "Complaints"),
    "users": ("用户管理", "Users"),
    "audit": ("审计日志", "Audit log"),
    "blocklist": ("屏蔽库与优化工单", "Blocklist & tickets"),
    "policy": ("策略与公告", "Policy & notices"),
    "reports": ("报告", "Reports"),
    "accounts": ("控制台账号", "Console accounts"),
    "language": ("语言", "Language"),
    "switch_lang": ("English", "中文"),
    "logout": ("退出登录", "Sign out"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "role.viewer": ("查看员", "viewer"),
    "role.reviewer": ("审核员", "reviewer"),
    "role.admin": ("管理员", "admin"),
    # login
    "login": ("登录", "Sign in"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "login.invalid": ("用户名或密码错误。", "Wrong user name or password."),
    "login.locked": ("登录失败次数过多，账号已临时锁定，请稍后再试或联系管理员。",
                     "Too many failed sign-ins: the account is locked for a while. Try later or ask an admin."),
    "login.expired": ("页面已过期，请重新提交。", "The page expired; please submit it again."),
    # errors
    "forbidden": ("无权访问", "Not allowed"),
    "forbidden.text": ("您的角色无权执行此操作。", "Your role may not do this."),
    "csrf": ("请求校验失败（CSRF），请刷新页面后重试。", "The form check failed (CSRF); reload the page and try again."),
    "not_found": ("未找到", "Not found"),
    "bad_input": ("输入有误", "Invalid input"),
    "not_available": ("该功能所需的服务模块尚未安装。", "The service module this page needs is not installed yet."),
    "back": ("返回", "Back"),
    # overview
    "traffic": ("请求量（每日）", "Requests per day"),
    "decisions_by_risk": ("拦截与脱敏（按风险，每日）", "Blocks and redactions by risk, per day"),
    "blocked": ("拦截", "Blocked"),
    "redacted": ("脱敏", "Redacted"),
    "requests": ("请求", "Requests"),
    "top_risks": ("主要风险（近 14 天）", "Top risks (14 days)"),
    "open_complaints": ("待处理投诉（按到期日）", "Open complaints by due date"),
    "suspended_users": ("被暂停的用户", "Suspended users"),
    "upstream_health": ("上游模型服务状态", "Upstream health"),
    "upstream.none": ("未配置上游模型服务。", "No upstream model server is configured."),
    "ok": ("正常", "OK"),
    "failing": ("异常", "Failing"),
    "none": ("无", "None"),
    "last_days": ("近 {n} 天", "last {n} days"),
    "truncated": ("数据量过大，仅统计了最近的记录。", "Too many rows: only the most recent were counted."),
    # audit
    "search": ("搜索", "Search"),
    "from": ("起始时间（UTC）", "From (UTC)"),
    "to": ("截止时间（UTC）", "To (UTC)"),
    "request_id": ("请求 ID", "Request id"),
    "user": ("用户（账号名或假名 ID）", "User (account name or pseudonym)"),
    "risk": ("风险 ID 或前缀", "Risk id or prefix"),
    "action": ("处置", "Action"),
    "kind": ("类型", "Kind"),
    "any": ("全部", "Any"),
    "time": ("时间", "Time"),
    "model": ("模型", "Model"),
    "status": ("状态码", "Status"),
    "content": ("内容（已脱敏）", "Content (redacted)"),
    "no_content": ("（未保存或已过保存期）", "(not kept, or past retention)"),
    "results": ("结果", "Results"),
    "no_results": ("没有匹配的记录。", "No matching rows."),
    "older": ("更早的记录", "Older rows"),
    "verify_chain": ("校验哈希链", "Verify the hash chain"),
    "chain_ok": ("哈希链完整：{n} 行记录均未被修改、删除或重排。",
                 "The hash chain is intact: none of the {n} rows was edited, deleted or reordered."),
    "chain_bad": ("哈希链校验失败：发现 {n} 处问题。", "The hash chain is broken: {n} problem(s) found."),
    "bad_time": ("时间格式应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM。", "Times are YYYY-MM-DD or YYYY-MM-DDTHH:MM."),
    # reports
    "reports.dir": ("报告目录", "Reports directory"),
    "reports.none": ("目录中没有 HTML 报告。用 hegui scan / hegui assess 的 --out 指向该目录即可在此查看。",
                     "No HTML reports here. Point the --out of hegui scan / hegui assess at this directory."),
    "reports.missing": ("报告目录不存在。", "The reports directory does not exist."),
    "file": ("文件", "File"),
    "modified": ("修改时间", "Modified"),
    "size": ("大小", "Size"),
    "open": ("打开", "Open"),
    # policy
    "active_policy": ("当前生效策略", "Active policy"),
    "rules": ("规则", "Rules"),
    "default_rule": ("默认规则", "Default rule"),
    "input": ("输入", "Input"),
    "output": ("输出", "Output"),
    "threshold": ("阈值", "Threshold"),
    "duties": ("服务义务参数", "Service duties"),
    "refusals": ("拒答文案", "Refusal messages"),
    "label_text": ("显式标识文字", "Explicit label text"),
    "label.prefix": ("前缀", "Prefix"),
    "label.suffix": ("后缀", "Suffix"),
    "label.enabled": ("启用", "Enabled"),
    "notices": ("用户公告", "Notices"),
    "save": ("保存", "Save"),
    "saved": ("已保存。", "Saved."),
    "edit_needs_admin": ("仅管理员可编辑。", "Only admins can edit."),
    # complaints / users / blocklist (issue-5 services)
    "type": ("类型", "Type"),
    "state": ("状态", "State"),
    "due": ("到期", "Due"),
    "overdue": ("已逾期", "Overdue"),
    "assignee": ("处理人", "Assignee"),
    "filter": ("筛选", "Filter"),
    "detail": ("详情", "Detail"),
    "assign_to_me": ("分配给我", "Assign to me"),
    "reply": ("回复投诉人", "Reply to the complainant"),
    "uphold": ("支持投诉（加入屏蔽库并开具优化工单）", "Uphold (blocklist + optimisation ticket)"),
    "reject": ("驳回", "Reject"),
    "reason": ("理由", "Reason"),
    "history": ("处理记录", "History"),
    "warn": ("警告", "Warn"),
    "suspend": ("暂停服务", "Suspend"),
    "lift": ("解除", "Lift"),
    "terminate": ("终止服务", "Terminate"),
    "strikes": ("违规次数", "Strikes"),
    "minor": ("未成年人", "Minor"),
    "verified": ("实名状态", "Verification"),
    "sanctions": ("处置记录", "Sanctions"),
    "add": ("添加", "Add"),
    "remove": ("移除", "Remove"),
    "export": ("导出", "Export"),
    "tickets": ("模型优化工单", "Model-optimisation tickets"),
    "text": ("文本", "Text"),
    "source": ("来源", "Source"),
    "created": ("创建时间", "Created"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "host": ("地址", "Host"),
    "latency": ("耗时（毫秒）", "Latency (ms)"),
    "detectors": ("检测器", "Detectors"),
    "ref": ("编号", "Ref"),
    "from_complaint": ("投诉 #{n}", "complaint #{n}"),
    "by_staff": ("人工添加", "added by staff"),
    "how.key": ("按 API 密钥", "by API key"),
    "how.key prefix": ("按密钥前缀", "by key prefix"),
    "how.last 4": ("按证件/手机号后四位", "by last 4 digits"),
    "how.pseudonym": ("按假名 ID", "by pseudonym"),
    "how.account name": ("按账号名", "by account name"),
    "notice.service_name": ("服务名称", "Service name"),
    "notice.model_name": ("模型名称", "Model name"),
    "notice.filing_number": ("备案号", "Filing number"),
    "notice.audience": ("适用人群", "Intended users"),
    "notice.uses": ("用途与局限", "Uses and limits"),
    "notice.terms": ("服务协议（含标识方式）", "Terms (including labelling)"),
    "notice.guidance": ("合理使用指引", "Responsible-use guidance"),
    "notice.reminder": ("防沉迷提醒", "Break reminder"),
    "notice.complaints": ("投诉渠道", "Complaints channel"),
    "col.risks": ("风险", "Risks"),
    "col.user": ("用户（假名）", "User (pseudonym)"),
    "close": ("结案", "Close"),
    "actor": ("操作人", "Actor"),
    "prompt": ("用户输入", "Prompt"),
    "complained_content": ("被投诉的生成内容", "Content complained about"),
    "safe_answer": ("安全回答（用于模型优化）", "Safe answer (for model optimisation)"),
    "hours": ("暂停时长（小时）", "Hours suspended"),
    "query": ("搜索（假名 ID、密钥前缀或证件后四位）", "Search (pseudonym, key prefix or ID last 4)"),
}


def translate(key: str, lang: str, **fmt: object) -> str:
    """The message ``key`` in ``lang`` (zh for anything but en), formatted with ``fmt``."""
    zh, en = MESSAGES[key]
    text = en if lang == "en" else zh
    return text.format(**fmt) if fmt else text


def translate_or(key: str, lang: str, default: str) -> str:
    """The message ``key`` if the catalogue has it, else ``default`` (for names that come from
    configuration models and may grow)."""
    return translate(key, lang) if key in MESSAGES else default


def pick_lang(value: str | None) -> str:
    """``en`` or ``zh`` from a cookie value; zh-CN is the default."""
    return "en" if value == "en" else "zh"
