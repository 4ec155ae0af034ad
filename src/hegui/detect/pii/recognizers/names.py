"""Person names: a common-surname list plus context (我叫/姓名/先生/女士…); no model yet.

Without a trained model a bare "surname + one or two characters" is far too common in ordinary
text (王者, 高手, 周末), so this recogniser only reports a name that a cue introduces (我叫, 姓名：,
联系人) or that a title follows (先生, 女士, 老师, 同学…).
"""

from __future__ import annotations

import re

from hegui.detect.pii.gates import CJK, Gate, alt, any_chars, chars, lit
from hegui.detect.pii.recognizer import Check, Pattern, PatternRecognizer, RecognizerResult

# Compound surnames first so that 欧阳 wins over 欧.
COMPOUND_SURNAMES = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯",
    "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "百里", "呼延", "闻人", "申屠", "澹台", "公冶", "太史",
    "万俟", "钟离", "宗政", "濮阳", "淳于", "单于", "赫连", "拓跋", "第五",
)
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向"
    "汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单"
    "季裴霍涂成苗谷盛曲翁冉骆蓝路辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳穆农司卓古吉缪简项芦麦褚娄"
    "窦戚岑景宫费卜冷晏席卫米柏宗瞿桂佟臧闵苟邬边卞姬师仇栾隋刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查"
    "麻苑迟邝官封谈匡鞠惠荆冀郁胥班储栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻厉伊仝区郜阚权帅屠豆朴盖练"
    "廉禹井祖漆巴丰支卿狄索宣晋容敬扈晁芮普阙浦鹿薄邸雍辜羊乌裘亓邰赫杭况鲜"
    "印逯隆茹诸战慕危玉银亢嵇哈湛宾戎勾茅於呼揭尉冶斯束檀展阴昝智幸奉植衡富尧闭"
)
# Characters that rarely appear in a given name but often right after one (particles, verbs, pronouns).
_NOT_GIVEN = "的了是在和与及或我你他她它们年岁说要想去来吧呢啊吗也都就还很有个这那么不没会能可以从给被把向对为，。"
_GIVEN = rf"(?:(?![{_NOT_GIVEN}])[\u4e00-\u9fff])"
_SURNAME_FIRST = frozenset(SURNAMES) | {c[0] for c in COMPOUND_SURNAMES}
_SURNAME = "(?:" + "|".join(COMPOUND_SURNAMES) + f"|[{SURNAMES}])"

_CUES_BEFORE = (
    r"我叫|我的名字是|我的名字叫|名字是|名字叫|名叫|姓名[:：是为]?|联系人[:：是为]|收件人[:：是为]?|"
    r"收货人[:：是为]?|寄件人[:：是为]?|患者[:：]|学生[:：]|员工[:：]|法定代表人[:：是为]?|户主[:：是为]?|"
    r"签名[:：]|name[:：]\s?|my name is\s"
)
# Words that start with a surname character and often stand before a title (高中老师, 南方先生…).
_NOT_NAMES_TEXT = (
    "高中 初中 小学 大学 中学 高校 数学 语文 英语 物理 化学 生物 历史 地理 政治 体育 音乐 美术 科学 信息 "
    "方面 周围 金球 衣服 产品 司产品 程大学 关于 于是 上官 王者 高手 周末 周年 司机 朱红 黄金 白色 黄色 "
    "陈述 任何 任意 常规 常见 向日 和女 位女 华人 安全 万一 石头 马上 钱包 江湖 许多 毛衣 余下 叶子 林业 "
    "邓女 宋体 潘多拉 章节 秦朝 唐朝 宋朝 明朝 元朝 汉朝 周朝 严格 康复 施工 孔子 齐全 易于 乔木 曲线 "
    "管理 包括 包含 宁可 祝你 祝您 简单 车主 车间 项目 冷静 卫生 柏林 全体 应用 商务 查看 查询 麻烦 官方 "
    "封面 谈话 惠普 荆州 燕子 楚国 劳动 皮肤 满意 廉价 井水 祖国 巴黎 丰富 支持 国家 平台 索引 宣传 晋升 "
    "初级 门口 云南 敬请 来自 容易 都是 雍正 羊肉 乌克兰 母亲 修改 宿舍 鲜花 印度 隆重 诸位 战争 危险 "
    "玉米 银行 公司 公安局 公安 哈哈 利用 呼吸 居民 干部 尉官 元旦 束缚 衣柜 信用 展示 智能 幸福 衡量 "
    "富有 由于 班主任 班主 的老 南方 花钱 钟表 龙头 贺卡 顾客 常务 温度 康熙 文学 文章"
)
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
_TITLES = r"先生|女士|小姐|老师|同学|医生|大夫|教授|经理|总监|律师|警官|师傅|阿姨|叔叔|主任|院长|校长|书记|局长|处长|科长"


# Characters after which a name can start: verbs and prepositions that take a person (谢谢王先生).
_BEFORE_NAME = frozenset("向和与给请谢找问跟被让叫对联系致同称见是由")


def _left_boundary(text: str, start: int) -> bool:
    if start == 0:
        return True
    prev = text[start - 1]
    return not ("\u4e00" <= prev <= "\u9fff") or prev in _BEFORE_NAME


def _is_surname(value: str) -> bool:
    return value in COMPOUND_SURNAMES or (len(value) == 1 and value in SURNAMES)


class PersonNameRecognizer(PatternRecognizer):
    """Chinese names introduced by a cue or followed by a title."""

    name = "person_name"
    risk = "pii.person_name"
    patterns = (Pattern("cue", rf"(?:{_CUES_BEFORE})\s?(?P<v>{_SURNAME}{_GIVEN}{{1,2}})", 0.75),)
    # Title patterns are run from each title backwards (see `analyze`), not over the whole text:
    # a pattern starting with a surname would be tried at every common character.
    title_full = Pattern("title_full", "", 0.6)
    title_surname = Pattern("title_surname", "", 0.4)
    context_words = ("姓名", "名字", "联系人", "本人", "签字", "name")
    context_boost = 0.1
    context_floor = 0.0

    _titles = re.compile(_TITLES)
    # A cue result is one of these cue prefixes (each cue of `_CUES_BEFORE` starts with one, and
    # its required punctuation is spelled out), at most two more characters (``[:：是为]?\s?``,
    # ``\s\s?``), then a surname, a CJK character. A title result is a surname character and up
    # to three more CJK characters before the title (`_before_title` looks four characters back
    # and needs the name pattern to match there).
    _cue_prefixes = (
        "我叫", "名字是", "名字叫", "名叫", "姓名", "联系人:", "联系人：", "联系人是", "联系人为", "收件人",
        "收货人", "寄件人", "患者:", "患者：", "学生:", "学生：", "员工:", "员工：", "法定代表人", "户主",
        "签名:", "签名：", "name:", "name：", "my name is",
    )
    gate = Gate.any_of(
        alt(*(lit(c) for c in _cue_prefixes)) + any_chars(0, 2) + CJK,
        chars(_SURNAME_FIRST) + f"(?:{CJK}){{0,3}}" + alt(*(lit(t) for t in _TITLES.split("|"))),
    )
    _name = re.compile(f"{_SURNAME}{_GIVEN}{{0,2}}")

    def analyze(self, text: str) -> list[RecognizerResult]:
        return self._analyze(text, True, True)

    def analyze_clauses(self, text: str, clauses: int) -> list[RecognizerResult]:
        # Gate clause 0 holds wherever a cue result can be, clause 1 wherever a title result can
        # (see `gate`): most texts that pass have a title and no cue, and skip the cue pattern.
        return self._analyze(text, bool(clauses & 1), bool(clauses & 2))

    def _analyze(self, text: str, cues: bool, titles: bool) -> list[RecognizerResult]:
        results = list(super().analyze(text)) if cues else []
        if titles:
            before_title = self._before_title
            for m in self._titles.finditer(text):
                r = before_title(text, m.start())
                if r is not None:
                    results.append(r)
        if len(results) < 2:
            return results  # nothing to merge: what the merge below returns
        # A name found by a cue and by a title is one name: keep the best per span start.
        best: dict[int, RecognizerResult] = {}
        for r in results:
            cur = best.get(r.start)
            if cur is None or r.score > cur.score:
                best[r.start] = r
        return sorted(best.values(), key=lambda r: r.start)

    def _before_title(self, text: str, end: int) -> RecognizerResult | None:
        """The name just before a title at ``end``: farthest start with a word boundary wins."""
        fallback: int | None = None
        chosen: int | None = None
        for start in range(max(0, end - 4), end):
            # A set lookup first: most characters before a title start no surname (先生先生…).
            if text[start] not in _SURNAME_FIRST or self._name.fullmatch(text, start, end) is None:
                continue
            if _left_boundary(text, start):
                chosen = start
                break
            if fallback is None:
                fallback = start
        start = chosen if chosen is not None else fallback
        if start is None:
            return None
        value = text[start:end]
        surname_only = _is_surname(value)  # the window already matched the name pattern
        if surname_only:
            if start > 0 and "\u4e00" <= text[start - 1] <= "\u9fff":
                return None
            pattern = self.title_surname
        else:
            pattern = self.title_full
        check = self.validate(value, pattern)
        if check.ok is False:
            return None
        score = pattern.score if chosen is not None else min(pattern.score, 0.35)
        ctx = self.has_context(text, start, end)
        if ctx:
            score = min(1.0, score + self.context_boost)
        return RecognizerResult(start, end, score, self.risk, self.name, pattern.name, None, check.reason, ctx)

    def validate(self, value: str, pattern: Pattern) -> Check:
        if value in _NOT_NAMES or value[:2] in _NOT_NAMES:
            return Check(False, "common word")
        return Check(None, "surname list + " + ("cue" if pattern.name == "cue" else "title"))

