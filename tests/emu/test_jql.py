"""Tests of the emulator's JQL engine (tests/emu/jira_emu/jql.py).  Run: pytest-3 tests/emu/test_jql.py

Expected error texts come from Atlassian's own tests and sources (TestJqlParsing,
TestDefaultOperatorUsageValidator, TestDefaultOrderByValidator, Jql.g, JqlDateSupportImpl, the date
functions) or from answers of real Jira servers quoted by clients; jql.py's docstring lists them.
A fixed clock (NOW) and fixed zones keep every test deterministic; nothing here touches the network."""
import datetime as dt
import os
import sys
from zoneinfo import ZoneInfo

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jira_emu import jql  # noqa: E402

UTC = dt.timezone.utc
NOW = dt.datetime(2024, 3, 10, 12, 0, 0, tzinfo=UTC)          # a Sunday
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")                    # UTC+14, no DST
NEW_YORK = ZoneInfo("America/New_York")                        # DST from 2024-03-10 02:00
PROJECTS = {"eng": "ENG", "engineering": "ENG", "10000": "ENG",
            "ops": "OPS", "operations": "OPS", "10001": "OPS"}
PARSE = "Error in the JQL Query: "


def utc(*a):
    return dt.datetime(*a, tzinfo=UTC)


def issue(id_, key, **kw):
    d = {
        "id": id_, "key": key, "old_keys": [], "project": key.split("-")[0], "issuetype": "Task",
        "status": "Open", "statusCategory": "To Do", "priority": "Medium", "labels": [],
        "summary": "Summary of %s" % key, "description": None, "resolution": None,
        "assignee": None, "reporter": "alice", "created": utc(2024, 1, 1), "updated": utc(2024, 1, 2),
        "parent": None,
    }
    d.update(kw)
    return d


ISSUES = [
    issue(10001, "ENG-1", issuetype="Bug", status="Done", statusCategory="Done", resolution="Fixed",
          labels=["backend", "Urgent"], assignee="bob", priority="High",
          summary="Crash when saving the file", description="Stack trace attached",
          created=utc(2024, 3, 1, 8, 0), updated=utc(2024, 3, 10, 11, 0)),
    issue(10002, "ENG-2", status="In Progress", statusCategory="In Progress", labels=["frontend"],
          assignee="alice", priority="Low", summary="Fix the login page",
          created=utc(2024, 3, 5), updated=utc(2024, 3, 9, 12, 0)),
    issue(10003, "ENG-10", issuetype="Story", priority=None, summary="Quarterly report",
          created=utc(2024, 3, 8), updated=utc(2024, 3, 10, 11, 58)),
    # moved from OPS-7 (and before that OPS-3) to ENG-11
    issue(10004, "ENG-11", old_keys=["OPS-7", "OPS-3"], status="Done", statusCategory="Done",
          resolution="Done", parent="ENG-10", created=utc(2023, 12, 31, 23, 30),
          updated=utc(2024, 2, 1)),
    issue(10005, "OPS-1", issuetype="Bug", labels=["backend"], assignee="carol", priority="Highest",
          created=utc(2024, 2, 15), updated=utc(2024, 3, 3, 9, 15)),
]


def ctx(tz=UTC, user="alice", now=NOW, **kw):
    return jql.Context(now, tz, user, PROJECTS, **kw)


def keys(text, c=None, issues=ISSUES):
    c = c or ctx()
    q = jql.parse(text)
    return [i["key"] for i in issues if jql.matches(q, i, c)]


def parse_error(text):
    with pytest.raises(jql.JqlError) as e:
        jql.parse(text)
    assert len(e.value.messages) == 1
    return e.value.messages[0]


def eval_error(text, c=None):
    q = jql.parse(text)
    with pytest.raises(jql.JqlError) as e:
        jql.validate(q, c or ctx())
    return e.value.messages


# ------------------------------------------------------------------ parsing

def test_precedence_not_and_or():
    q = jql.parse("a = 1 OR b = 2 AND NOT c = 3")
    assert isinstance(q.where, jql.Or)
    left, right = q.where.children
    assert isinstance(left, jql.Clause)
    assert isinstance(right, jql.And)
    assert isinstance(right.children[1], jql.Not)


def test_parentheses_override_precedence():
    q = jql.parse("(a = 1 OR b = 2) AND c = 3")
    assert isinstance(q.where, jql.And)
    assert isinstance(q.where.children[0], jql.Or)


def test_symbolic_logical_operators():
    q = jql.parse("a = 1 && b = 2 || !c = 3")
    assert isinstance(q.where, jql.Or)
    assert isinstance(q.where.children[0], jql.And)
    assert isinstance(q.where.children[1], jql.Not)


def test_keywords_case_insensitive_and_order_by():
    q = jql.parse('Project = ENG aNd StAtUs In (Open, "In Progress") oRdEr By KEY asc, updated')
    assert q.order_by == [("KEY", "ASC"), ("updated", "DESC")]   # updated defaults to DESC
    assert q.bounded


def test_order_by_default_directions():
    q = jql.parse("order by created, key, status, summary, priority")
    assert [d for _f, d in q.order_by] == ["DESC", "ASC", "DESC", "ASC", "DESC"]


def test_bounded():
    assert not jql.parse("").bounded
    assert not jql.parse("   ").bounded
    assert not jql.parse("ORDER BY key DESC").bounded
    assert jql.parse("project = ENG").bounded
    assert jql.parse("").where is None


def test_quoting_and_escapes():
    q = jql.parse(r"""summary ~ "say \"hi\"" and labels = 'a b' and labels = x\ y and """
                  r"""labels = 'it\'s' and labels = '\u0041'""")
    vals = [c.operand.value for c in q.where.children]
    assert vals == ['say "hi"', "a b", "x y", "it's", "A"]


def test_numbers_and_functions_parse():
    q = jql.parse("updated > 1588767317831 and created >= startOfDay(-1) and assignee = currentUser()")
    a, b, c = q.where.children
    assert a.operand.kind == "number" and a.operand.value == 1588767317831
    assert b.operand.kind == "func" and b.operand.args == ["-1"]
    assert c.operand.display() == "currentUser()"


def test_empty_and_null():
    q = jql.parse("assignee is EMPTY and reporter is not null and priority = empty")
    assert [c.operand.kind for c in q.where.children] == ["empty", "empty", "empty"]
    assert [c.op for c in q.where.children] == ["is", "is not", "="]


def test_custom_field_syntax():
    q = jql.parse("cf[10001] = x")
    assert q.where.field == "cf[10001]"


# Expected messages copied from Atlassian's func test TestJqlParsing (Jira 6.2+) unless marked.
@pytest.mark.parametrize("text,message", [
    ("a", "Expecting operator before the end of the query. The valid operators are '=', '!=', "
          "'<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'."),
    ("a blah >", "Expecting operator but got 'blah'. The valid operators are '=', '!=', '<', '>', "
                 "'<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'. (line 1, character 3)"),
    ("a =a and j not is empty", "Expecting 'IN' but got 'is'. (line 1, character 16)"),
    ("a =a and j is ! empty", "Expecting 'NOT' but got '!'. (line 1, character 15)"),
    ("a=", "Expecting either a value, list or function before the end of the query."),
    ("a=!", "Expecting either a value, list or function but got '!'. You must surround '!' in "
            "quotation marks to use it as a value. (line 1, character 3)"),
    ("a=b c=d", "Expecting either 'OR' or 'AND' but got 'c'. (line 1, character 5)"),
    ("a=b !c=d", "Expecting either 'OR' or 'AND' but got '!'. (line 1, character 5)"),
    ("a=(a,", "Expecting either a value, list or function before the end of the query."),
    ("a=(a,(,bad))", "Expecting either a value, list or function but got ','. You must surround "
                     "',' in quotation marks to use it as a value. (line 1, character 7)"),
    ("a = ((c,d), d, e, f, yyy) and", "Expecting a field name at the end of the query."),
    ('comment !~ "brenden" jack = jill', "Expecting either 'OR' or 'AND' but got 'jack'. "
                                         "(line 1, character 22)"),
    ('comment !~ "brenden" and cf[1000] = jill order by a desc b',
     "Expecting ',' but got 'b'. (line 1, character 58)"),
    (", a = b", "Expecting a field name but got ','. You must surround ',' in quotation marks to "
                "use it as a field name. (line 1, character 1)"),
    ("order by a desc d", "Expecting ',' but got 'd'. (line 1, character 17)"),
    ("[brenden] = a", "Expecting a field name but got '['. Did you mean 'cf['? (line 1, character 1)"),
    ("a = brenden and [78] = q", "Expecting a field name but got '['. Did you mean 'cf['? "
                                 "(line 1, character 17)"),
    ("a =b order", "Expecting 'by' before the end of the query."),
    ("a =b order summary", "Expecting 'by' but got 'summary'. (line 1, character 12)"),
    ("a =b order by", "Expecting a field name at the end of the query."),
    ("a =b order by asc", "Expecting a field name but got 'asc'. You must surround 'asc' in "
                          "quotation marks to use it as a field name. (line 1, character 15)"),
    ("a =b order by ajsks blah", "Expecting either 'ASC' or 'DESC' but got 'blah'. (line 1, character 21)"),
    ('a =b order by "" desc', "A field name cannot be empty. (line 1, character 15)"),
    ("'' = c", "A field name cannot be empty. (line 1, character 1)"),
    ("a = ''()", "A function name cannot be empty. (line 1, character 5)"),
    ('a = ""()', "A function name cannot be empty. (line 1, character 5)"),
    ("cf", "Expecting '[' before the end of the query."),
    ("a = b and not (cf = 6)", "Expecting '[' but got '='. (line 1, character 19)"),
    ("cf[", "Expecting a custom field id (a positive number) before the end of the query."),
    ("cf[ = 9", "Expecting a custom field id (a positive number) but got '='. (line 1, character 5)"),
    ("cf[] = 1", "Expecting a custom field id (a positive number) but got ']'. (line 1, character 4)"),
    ("cf[-29829] = ", "Expecting a custom field id (a positive number) but got '-29829'. "
                      "(line 1, character 4)"),
    ("cf[29829 = world", "Expecting ']' but got '='. (line 1, character 10)"),
    ("cf[29829", "Expecting ']' before the end of the query."),
    ("a = func(", "Expecting ')' before the end of the query."),
    ("a = func(, and not (a = x)", "Expecting ')' but got ','. (line 1, character 10)"),
    ("b=func(bad", "Expecting ')' before the end of the query."),
    ("bas=func(bad,)", "Function argument must be specified. (line 1, character 14)"),
    ("bas=func(bad,", "Expecting a function argument at the end of the query."),
    ("k = func(!", "Expecting a function argument but got '!'. You must surround '!' in quotation "
                   "marks to use it as an argument. (line 1, character 10)"),
    ("k = func(abc, jk!)", "Expecting ')' or ',' but got '!'. (line 1, character 17)"),
    ("(a=b and c = d", "Expecting ')' before the end of the query."),
    ("a=b or (c=d and not l ~ kate", "Expecting ')' before the end of the query."),
    ("b in ((12, (288)", "Expecting ')' before the end of the query."),
    ("abc IN ((foo) abc = a", "Expecting ')' but got 'abc'. (line 1, character 15)"),
    ("comment ~ 'test", "The quoted string 'test' has not been completed. (line 1, character 11)"),
    ("comment ~ 'test\n", "The quoted string 'test ' has not been completed. (line 1, character 11)"),
    ('priority="test\nword', "The quoted string 'test word' has not been completed. (line 1, character 10)"),
    ("comment ~ '", "The quoted string has not been completed. (line 1, character 11)"),
    ("comme\\unt ~ 'test", "'\\un' is an illegal JQL escape sequence. The valid escape sequences "
                          "are \\', \\\", \\t, \\n, \\r, \\\\, '\\ ' and \\uXXXX. (line 1, character 6)"),
    ("mine{www = qwwr", "The character '{' is a reserved JQL character. You must enclose it in a "
                        "string or use the escape '\\u007b' instead. (line 1, character 5)"),
    ("minewww# = qwwr", "The character '#' is a reserved JQL character. You must enclose it in a "
                        "string or use the escape '\\u0023' instead. (line 1, character 8)"),
    ("minewww = qwwr}", "The character '}' is a reserved JQL character. You must enclose it in a "
                        "string or use the escape '\\u007d' instead. (line 1, character 15)"),
    ("minewww =\u007fqwwr", "The character 'U+007F' on line 1 at position 10 must be escaped. "
                            "Use the escape '\\u007f' instead. (line 1, character 10)"),
    ('mqwwr="\u007f this is broken"', "The character 'U+007F' on line 1 at position 8 must be "
                                      "escaped. Use the escape '\\u007f' instead. (line 1, character 8)"),
    ("aaaaa=-3482094382084092840932809482", "'-3482094382084092840932809482' is not a valid number. "
     "Numbers must be between -9,223,372,036,854,775,808 and 9,223,372,036,854,775,807. "
     "(line 1, character 7)"),
    ("summary ~ date", "'date' is a reserved JQL word. You must surround it in quotation marks to "
                       "use it in a query. (line 1, character 11)"),
    ("summary ~ select", "'select' is a reserved JQL word. You must surround it in quotation marks "
                         "to use it in a query. (line 1, character 11)"),
    # from a client test recording Jira's answers (line 2 position)
    ("project = ENG\nAND ) ", "Expecting a field name but got ')'. You must surround ')' in "
                              "quotation marks to use it as a field name. (line 2, character 5)"),
    ("project = ENG AND", "Expecting a field name at the end of the query."),
    ("(project = ENG", "Expecting ')' before the end of the query."),
    ("project = ENG status = Done", "Expecting either 'OR' or 'AND' but got 'status'. "
                                    "(line 1, character 15)"),
])
def test_parse_errors_match_jira(text, message):
    got = parse_error(text)
    if message.startswith("Expecting either a value, list or function"):
        # the one message whose real answers read "Error in JQL Query:" (no "the")
        assert got == "Error in JQL Query: " + message
    else:
        assert got == PARSE + message


def test_lexical_errors_win_over_earlier_syntax_errors():
    # ANTLR 3 lexes the whole query first (CommonTokenStream.fillBuffer)
    assert parse_error("a=b c=d {") == PARSE + (
        "The character '{' is a reserved JQL character. You must enclose it in a string or use "
        "the escape '\\u007b' instead. (line 1, character 9)")
    assert parse_error("a=b c=d and x = select").startswith(PARSE + "'select' is a reserved JQL word.")


def test_quoted_strings_may_span_lines_but_not_hold_tabs():
    assert jql.parse('summary ~ "two\nlines"').where.operand.value == "two\nlines"
    assert parse_error('summary ~ "a\tb"') == PARSE + (
        "The character 'TAB' on line 1 at position 13 must be escaped. Use the escape '\\u0009' "
        "instead. (line 1, character 13)")
    assert jql.parse("summary ~ a\tand\tlabels = x").where.children[1].field == "labels"


def test_grammar_keywords_are_not_values():
    for word in ("on", "to", "from", "after", "before", "during", "cf", "order", "asc"):
        assert parse_error("labels = %s" % word).startswith(
            "Error in JQL Query: Expecting either a value, list or function but got '%s'." % word)
    assert jql.parse("labels = online").where.operand.value == "online"


def test_operand_followed_by_garbage():
    assert parse_error("labels in (foo abc)") == PARSE + "Expecting ',' or ')' but got 'abc'. (line 1, character 16)"
    assert parse_error("(a=b c=d)") == PARSE + "Expecting either 'OR' or 'AND' but got 'c'. (line 1, character 6)"
    assert parse_error("a = f(x,,y)") == PARSE + "Function argument must be specified. (line 1, character 9)"
    assert parse_error('status = "Open" by admin') == PARSE + (
        'The EQUALS operator does not support the use of the by "admin" predicate.')


def test_slash_dates_must_be_quoted():
    # '/' is in Jql.g's RESERVED_CHARS; JRJC's integration test expects this exact 400
    assert parse_error("created > 2024/03/10") == PARSE + (
        "The character '/' is a reserved JQL character. You must enclose it in a string or use the "
        "escape '\\u002f' instead. (line 1, character 15)")


def test_reserved_word_quoted_is_fine():
    assert jql.parse('summary ~ "date"').where.operand.value == "date"


def test_keyword_as_value_needs_quotes():
    assert parse_error("labels = and") == "Error in JQL Query: " + (
        "Expecting either a value, list or function but got 'and'. You must surround 'and' in "
        "quotation marks to use it as a value. (line 1, character 10)")
    assert jql.parse('labels = "and"').where.operand.value == "and"


def test_history_operators_are_refused():
    with pytest.raises(jql.JqlError):
        jql.parse("status was Open")
    with pytest.raises(jql.JqlError):
        jql.parse("status changed")


# ------------------------------------------------------------------ operators and fields

def test_project_by_key_name_id_and_case():
    assert keys("project = ENG") == ["ENG-1", "ENG-2", "ENG-10", "ENG-11"]
    assert keys("project = eng") == keys("project = ENG")
    assert keys('project = "Operations"') == ["OPS-1"]
    assert keys("project = 10001") == ["OPS-1"]
    assert keys("project in (OPS, 10000)") == [i["key"] for i in ISSUES]
    assert keys("project != ENG") == ["OPS-1"]
    assert keys("project not in (ENG)") == ["OPS-1"]
    assert keys("project is EMPTY") == []


def test_unknown_project_messages():
    assert eval_error("project = NOPE") == ["The value 'NOPE' does not exist for the field 'project'."]
    assert eval_error("project = 99999 AND project = 88888") == [
        "A value with ID '99999' does not exist for the field 'project'.",
        "A value with ID '88888' does not exist for the field 'project'."]
    # validated even where evaluation would never reach the clause
    assert eval_error("project = ENG OR project in (ENG, nope)") == [
        "The value 'nope' does not exist for the field 'project'."]
    with pytest.raises(jql.JqlError):
        jql.matches(jql.parse("project = NOPE"), ISSUES[0], ctx())


def test_unknown_field():
    assert eval_error("fixVersion = 1.0") == [
        "Field 'fixVersion' does not exist or you do not have permission to view it."]
    assert eval_error("cf[10001] = x") == [
        "Field 'cf[10001]' does not exist or you do not have permission to view it."]


def test_known_custom_field():
    c = ctx(known_fields=["cf[10001]", "Team"])
    items = [issue(1, "ENG-1", custom={"cf[10001]": "red", "Team": "Core"}), issue(2, "ENG-2")]
    assert keys("cf[10001] = RED", c, items) == ["ENG-1"]
    assert keys('team ~ "core"', c, items) == ["ENG-1"]
    assert keys("Team is EMPTY", c, items) == ["ENG-2"]


def test_key_and_aliases():
    assert keys("key = ENG-2") == ["ENG-2"]
    assert keys("issuekey = eng-2") == ["ENG-2"]
    assert keys("issue in (ENG-1, OPS-1)") == ["ENG-1", "OPS-1"]
    assert keys("id = 10003") == ["ENG-10"]
    assert keys("id in (10003, ENG-1)") == ["ENG-1", "ENG-10"]
    assert keys("key != ENG-2 and project = ENG") == ["ENG-1", "ENG-10", "ENG-11"]
    assert keys("key not in (ENG-1, ENG-2)") == ["ENG-10", "ENG-11", "OPS-1"]


def test_key_relational_is_per_project_and_numeric():
    assert keys("key > ENG-2") == ["ENG-10", "ENG-11"]          # 10 > 2: numeric, not string
    assert keys("key <= ENG-10") == ["ENG-1", "ENG-2", "ENG-10"]
    assert keys("id >= 10004") == ["ENG-11", "OPS-1"]
    assert keys("id < 10002") == ["ENG-1"]


def test_moved_issue_matches_old_keys():
    assert keys("key = OPS-7") == ["ENG-11"]
    assert keys("key = ops-3") == ["ENG-11"]
    assert keys("key in (OPS-7, OPS-1)") == ["ENG-11", "OPS-1"]
    assert "ENG-11" not in keys("key != OPS-7")
    assert keys("project = OPS") == ["OPS-1"]                    # the moved issue left OPS


def test_key_validation_messages():
    assert eval_error("key = foo") == ["The issue key 'foo' for field 'key' is invalid."]
    known = {i["key"]: i["key"] for i in ISSUES}
    known.update({"OPS-7": "ENG-11", "OPS-3": "ENG-11"})
    c = ctx(known_keys=known)
    assert keys("key in (OPS-7, ENG-1)", c) == ["ENG-1", "ENG-11"]
    assert eval_error("key in (ENG-1, ENG-99)", c) == [
        "An issue with key 'ENG-99' does not exist for field 'key'."]
    assert eval_error("key > OPS-7", c) == ["Operator '>' cannot be applied to moved issue key 'OPS-7'."]


def test_issuetype_status_priority_resolution():
    assert keys("type = bug") == ["ENG-1", "OPS-1"]
    assert keys("issuetype in (Story, Bug)") == ["ENG-1", "ENG-10", "OPS-1"]
    assert keys('status = "in progress"') == ["ENG-2"]
    assert keys("status not in (Open, Done)") == ["ENG-2"]
    assert keys("statusCategory = Done") == ["ENG-1", "ENG-11"]
    assert keys("statusCategory != done") == ["ENG-2", "ENG-10", "OPS-1"]
    assert keys("priority = High") == ["ENG-1"]
    assert keys("priority is EMPTY") == ["ENG-10"]
    assert keys("priority != High") == ["ENG-2", "ENG-11", "OPS-1"]   # empty priority excluded
    assert keys("priority > Medium") == ["ENG-1", "OPS-1"]
    assert keys("priority <= Low") == ["ENG-2"]
    assert keys("resolution = Unresolved") == ["ENG-2", "ENG-10", "OPS-1"]
    assert keys("resolution is not EMPTY") == ["ENG-1", "ENG-11"]
    assert keys("resolution in (Fixed, Done)") == ["ENG-1", "ENG-11"]


def test_known_values_are_validated():
    c = ctx(known_values={"status": ["Open", "In Progress", "Done"]})
    assert eval_error("status = Blocked", c) == [
        "The value 'Blocked' does not exist for the field 'status'."]
    assert keys("status = done", c) == ["ENG-1", "ENG-11"]


def test_labels_multi_valued():
    assert keys("labels = backend") == ["ENG-1", "OPS-1"]
    assert keys("labels = urgent") == ["ENG-1"]
    assert keys("labels in (frontend, Urgent)") == ["ENG-1", "ENG-2"]
    assert keys("labels != backend") == ["ENG-2"]        # no-label issues excluded, as in Jira
    assert keys("labels not in (backend)") == ["ENG-2"]
    assert keys("labels is EMPTY") == ["ENG-10", "ENG-11"]
    assert keys("labels is not EMPTY") == ["ENG-1", "ENG-2", "OPS-1"]
    assert keys("labels in (frontend, EMPTY)") == ["ENG-2", "ENG-10", "ENG-11"]


def test_users_and_current_user():
    assert keys("assignee = currentUser()") == ["ENG-2"]
    assert keys("assignee = currentUser()", ctx(user="bob")) == ["ENG-1"]
    assert keys("assignee = currentUser()", ctx(user=None)) == []
    assert keys("assignee != bob") == ["ENG-2", "OPS-1"]     # unassigned excluded
    assert keys("assignee is EMPTY") == ["ENG-10", "ENG-11"]
    assert keys("assignee in (BOB, carol)") == ["ENG-1", "OPS-1"]
    assert keys("reporter = alice") == [i["key"] for i in ISSUES]


def test_text_contains():
    assert keys('summary ~ "crash"') == ["ENG-1"]
    assert keys('summary ~ "saving crash"') == ["ENG-1"]        # every word, any order
    assert keys('summary ~ "\\"the file\\""') == ["ENG-1"]      # phrase
    assert keys('summary ~ "fix*"') == ["ENG-2"]
    assert keys('summary !~ crash and project = ENG') == ["ENG-2", "ENG-10", "ENG-11"]
    assert keys('description ~ trace') == ["ENG-1"]
    assert keys('text ~ "stack"') == ["ENG-1"]
    assert keys('description is EMPTY') == ["ENG-2", "ENG-10", "ENG-11", "OPS-1"]


def test_text_search_syntax():
    assert keys('summary ~ "crash OR login"') == ["ENG-1", "ENG-2"]
    assert keys('summary ~ "crash || login"') == ["ENG-1", "ENG-2"]
    assert keys('summary ~ "crash AND login"') == []
    assert keys('summary ~ "+crash +file"') == ["ENG-1"]
    assert keys('summary ~ "summary -OPS"') == ["ENG-11"]
    assert keys('summary ~ "summary NOT OPS"') == ["ENG-11"]
    assert keys('summary ~ "\\"file the\\""') == []            # a phrase keeps its order
    assert keys('summary ~ "sav*"') == ["ENG-1"]
    assert keys('summary ~ "*port"') == ["ENG-10"]
    assert keys('summary ~ "pag?"') == ["ENG-2"]
    assert keys('summary ~ "crashes saved"') == ["ENG-1"]         # crude stemming
    assert keys('summary ~ "crashed"') == ["ENG-1"]
    assert keys('summary ~ "rep"') == []                         # words, not substrings
    assert keys('summary ~ "eng-11"') == ["ENG-11"]              # hyphenated: adjacent words
    assert keys('summary ~ "-crash"') == []                      # exclusions alone match nothing
    assert keys('summary ~ "-crash OR login"') == ["ENG-2"]


def test_text_search_errors():
    # measured on Jira Server 10.3.19 (a public cheat sheet recording the real answers)
    assert eval_error('text ~ ""') == ["The field 'text' does not support searching for an empty string."]
    assert eval_error('summary ~ "AND"') == ["Unable to parse the text 'AND' for field 'summary'."]
    assert eval_error('text = x') == ["The operator '=' is not supported by the 'text' field."]
    assert eval_error('text !~ x') == ["The operator '!~' is not supported by the 'text' field."]
    assert keys('summary ~ "\\"AND\\""') == []                 # quoted, it is a search term


def test_parent():
    assert keys("parent = ENG-10") == ["ENG-11"]
    assert keys("parent in (eng-10)") == ["ENG-11"]


def test_logic_combinations():
    assert keys("project = ENG AND (status = Done OR labels = frontend)") == ["ENG-1", "ENG-2", "ENG-11"]
    assert keys("project = ENG AND status = Done OR labels = frontend") == ["ENG-1", "ENG-2", "ENG-11"]
    assert keys("NOT project = ENG") == ["OPS-1"]
    assert keys("not (project = ENG or type = Bug)") == []
    assert keys("project = ENG and not status = Done") == ["ENG-2", "ENG-10"]
    assert keys("project = OPS or project = ENG and type = Story") == ["ENG-10", "OPS-1"]


@pytest.mark.parametrize("text,message", [
    ("project ~ ENG", "The operator '~' is not supported by the 'project' field."),
    ("summary = x", "The operator '=' is not supported by the 'summary' field."),
    ("status > Open", "The operator '>' is not supported by the 'status' field."),
    ("project = (ENG, 10001)", "Operator '=' does not support the list value '(\"ENG\", 10001)' for field 'project'."),
    ("status in Open", "Operator 'in' does not support the non-list value '\"Open\"' for field 'status'."),
    ("status in EMPTY", "Operator 'in' does not support the empty value representation 'EMPTY' for field 'status'."),
    ("created > EMPTY", "Operator '>' does not support the empty value representation 'EMPTY' for field 'created'."),
    ("assignee is bob", "Operator 'is' does not support searching for non-empty values for field 'assignee'."),
    ("assignee is not bob", "Operator 'is not' does not support searching for non-empty values for field 'assignee'."),
    ("assignee = bogus()", "Unable to find JQL function 'bogus()'."),
    ("updated > now(1)", "Function 'now' expected '0' arguments but received '1'."),
    ("updated > startOfDay(\"invalid\")", "Duration for function 'startOfDay' should have the format "
                                          "(+/-)n(yMwdm), e.g -1M for 1 month earlier."),
])
def test_validation_messages(text, message):
    assert eval_error(text) == [message]


# ------------------------------------------------------------------ dates

def test_iso_date_is_rejected_with_jiras_message():
    assert eval_error('updated >= "2020-05-06T12:15:17.831Z"') == [
        "Date value '2020-05-06T12:15:17.831Z' for field 'updated' is invalid. Valid formats include: "
        "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format "
        "e.g. '-5d', '4w 2d'."]


@pytest.mark.parametrize("bad", ["yesterday", "2024-13-01", "2024-02-30", "2024/01-02",
                                 "2024-01-02 24:00", "2024-01-02 10:15:30", "2024-01-02 10:",
                                 "2024-01-02T10:15", "08/06/15", "-5y", "", "  ", "4w2d", "+5d",
                                 "--5d", "0.01h", "5 hours", "1mo", "5x"])
def test_invalid_dates(bad):
    msgs = eval_error('created > "%s"' % bad)
    assert msgs[0].startswith("Date value '%s' for field 'created' is invalid." % bad)


def test_date_field_aliases_keep_name_in_message():
    assert eval_error('createdDate > "x"')[0].startswith("Date value 'x' for field 'createdDate'")


@pytest.mark.parametrize("literal,expected", [
    ("2024-03-10", utc(2024, 3, 10)),
    ('"2024/03/10"', utc(2024, 3, 10)),
    ("2024-3-9", utc(2024, 3, 9)),
    ('"2024-03-10 11:58"', utc(2024, 3, 10, 11, 58)),
    ('"2024/03/10 11:58"', utc(2024, 3, 10, 11, 58)),
])
def test_absolute_dates_utc(literal, expected):
    q = jql.parse("updated >= %s" % literal)
    got = [i for i in ISSUES if jql.matches(q, i, ctx())]
    assert got == [i for i in ISSUES if i["updated"] >= expected]


def test_minute_precision_literal_is_start_of_minute():
    items = [issue(1, "A-1", updated=utc(2024, 1, 2, 10, 15, 0)),
             issue(2, "A-2", updated=utc(2024, 1, 2, 10, 15, 0, 1000)),   # 10:15:00.001
             issue(3, "A-3", updated=utc(2024, 1, 2, 10, 14, 59, 999000)),
             issue(4, "A-4", updated=utc(2024, 1, 2, 10, 15, 1))]
    # Jira compares whole seconds (LuceneUtils.dateToString): 10:15:00.001 is not > 10:15
    assert keys('updated > "2024-01-02 10:15"', ctx(), items) == ["A-4"]
    assert keys('updated >= "2024-01-02 10:15"', ctx(), items) == ["A-1", "A-2", "A-4"]
    assert keys('updated = "2024-01-02 10:15"', ctx(), items) == ["A-1", "A-2"]
    assert keys('updated < "2024-01-02 10:15"', ctx(), items) == ["A-3"]
    assert keys('updated != "2024-01-02 10:15"', ctx(), items) == ["A-3", "A-4"]


def test_dates_read_in_user_zone_far_from_utc():
    # Kiritimati is UTC+14: "2024-03-10" there is 2024-03-09T10:00Z
    items = [issue(1, "A-1", updated=utc(2024, 3, 9, 9, 59)), issue(2, "A-2", updated=utc(2024, 3, 9, 10, 0))]
    assert keys("updated >= 2024-03-10", ctx(KIRITIMATI), items) == ["A-2"]
    assert keys("updated >= 2024-03-10", ctx(UTC), items) == []
    assert keys('updated < "2024-03-10 00:00"', ctx(KIRITIMATI), items) == ["A-1"]


def test_dst_gap_and_overlap_new_york():
    c = ctx(NEW_YORK)
    # spring forward 2024-03-10 02:00 EST -> 03:00 EDT: 02:00-02:59 does not exist; Jira's
    # non-lenient SimpleDateFormat rejects it, so the query is a 400
    assert jql.parse_date("2024-03-10 02:30", c) is None
    assert jql.parse_date("2024-03-10 02:00", c) is None
    assert eval_error('updated > "2024-03-10 02:30"', c) == [
        "Date value '2024-03-10 02:30' for field 'updated' is invalid. " + jql.DATE_FORMATS]
    assert jql.parse_date("2024-03-10 01:59", c).astimezone(UTC) == utc(2024, 3, 10, 6, 59)
    assert jql.parse_date("2024-03-10 03:00", c).astimezone(UTC) == utc(2024, 3, 10, 7, 0)
    # fall back 2024-11-03 02:00 EDT -> 01:00 EST: 01:00-01:59 happens twice; Java takes the
    # offset after the transition (EST), i.e. the later instant
    assert jql.parse_date("2024-11-03 01:30", c).astimezone(UTC) == utc(2024, 11, 3, 6, 30)
    assert jql.parse_date("2024-11-03 01:00", c).astimezone(UTC) == utc(2024, 11, 3, 6, 0)
    assert jql.parse_date("2024-11-03 00:59", c).astimezone(UTC) == utc(2024, 11, 3, 4, 59)
    assert jql.parse_date("2024-11-03 02:00", c).astimezone(UTC) == utc(2024, 11, 3, 7, 0)
    items = [issue(1, "A-1", updated=utc(2024, 11, 3, 5, 45)),    # 01:45 EDT (first pass)
             issue(2, "A-2", updated=utc(2024, 11, 3, 6, 45))]    # 01:45 EST (second pass)
    assert keys('updated >= "2024-11-03 01:30"', c, items) == ["A-2"]
    # offsets differ across the change: midnight before is EST (-5), the day after EDT (-4)
    assert jql.parse_date("2024-03-10", c).astimezone(UTC) == utc(2024, 3, 10, 5, 0)
    assert jql.parse_date("2024-03-11", c).astimezone(UTC) == utc(2024, 3, 11, 4, 0)


def test_auckland_far_from_utc_with_dst():
    c = ctx(ZoneInfo("Pacific/Auckland"))      # +13 in summer, +12 in winter
    assert jql.parse_date("2024-01-15", c) == utc(2024, 1, 14, 11, 0)
    assert jql.parse_date("2024-07-15", c) == utc(2024, 7, 14, 12, 0)
    # DST ends 2024-04-07 03:00 NZDT -> 02:00 NZST: 02:30 twice, the later (NZST) wins
    assert jql.parse_date("2024-04-07 02:30", c) == utc(2024, 4, 6, 14, 30)
    # DST starts 2024-09-29 02:00 NZST -> 03:00 NZDT: 02:30 does not exist
    assert jql.parse_date("2024-09-29 02:30", c) is None
    assert jql.parse_date("2024-09-29 03:00", c) == utc(2024, 9, 28, 14, 0)
    # an issue updated at 2024-01-14T11:30Z is "2024-01-15 00:30" in Auckland
    items = [issue(1, "A-1", updated=utc(2024, 1, 14, 11, 30))]
    assert keys('updated >= "2024-01-15" and updated < "2024-01-15 01:00"', c, items) == ["A-1"]
    assert keys('updated >= "2024-01-15"', ctx(UTC), items) == []


def test_repeated_hour_compares_as_instants():
    # issue timestamps in the user's own zone, one in each pass of the repeated hour: Python
    # would compare same-zone datetimes by wall time; the engine must compare instants
    c = ctx(NEW_YORK)
    first = dt.datetime(2024, 11, 3, 1, 30, tzinfo=NEW_YORK, fold=0)    # 05:30Z (EDT)
    second = dt.datetime(2024, 11, 3, 1, 30, tzinfo=NEW_YORK, fold=1)   # 06:30Z (EST)
    items = [issue(1, "A-1", updated=first), issue(2, "A-2", updated=second)]
    assert keys('updated = "2024-11-03 01:30"', c, items) == ["A-2"]
    assert keys('updated < "2024-11-03 01:30"', c, items) == ["A-1"]
    assert keys("updated = %d" % int(second.timestamp() * 1000), c, items) == ["A-2"]
    got = jql.sort(jql.parse("order by updated desc"), items, c)
    assert [i["key"] for i in got] == ["A-2", "A-1"]


def test_relative_dates_against_fixed_now():
    c = ctx()
    assert jql.parse_date("-5m", c) == NOW - dt.timedelta(minutes=5)
    assert jql.parse_date("-1d", c) == NOW - dt.timedelta(days=1)
    assert jql.parse_date("-4w 2d", c) == NOW - dt.timedelta(days=30)
    assert jql.parse_date("-4w, 2d", c) == NOW - dt.timedelta(days=30)
    assert jql.parse_date(" - 5d ", c) == NOW - dt.timedelta(days=5)
    assert jql.parse_date("-2days", c) == NOW - dt.timedelta(days=2)
    assert jql.parse_date("-1.5h", c) == NOW - dt.timedelta(minutes=90)
    assert jql.parse_date("-1W 1D 1H 1M", c) == NOW - dt.timedelta(days=8, hours=1, minutes=1)
    assert jql.parse_date("5", c) == NOW + dt.timedelta(minutes=5)         # bare number: minutes
    assert jql.parse_date("-4w 30", c) == NOW - dt.timedelta(days=28, minutes=30)
    assert jql.parse_date("-", c) == NOW
    assert jql.parse_date("1h", c) == NOW + dt.timedelta(hours=1)
    assert jql.parse_date("4w 2d", c) == NOW + dt.timedelta(days=30)
    assert keys("updated >= -5m") == ["ENG-10"]                 # 11:58 >= 11:55
    assert keys("updated > -1h") == ["ENG-10"]
    assert keys("updated >= -61m") == ["ENG-1", "ENG-10"]
    assert keys('updated >= "-1d"') == ["ENG-1", "ENG-2", "ENG-10"]   # ENG-2: exactly now - 24 h
    assert keys('updated > "-1d"') == ["ENG-1", "ENG-10"]
    assert keys('created < "-4w 2d"') == ["ENG-11"]            # before 2024-02-09 12:00


def test_relative_dates_are_elapsed_time_not_wall_clock():
    # NOW is 12:00Z on the day New York springs forward: -1d is 24 h earlier whatever the zone
    assert jql.parse_date("-1d", ctx(NEW_YORK)) == NOW - dt.timedelta(hours=24)


def test_epoch_milliseconds():
    ms = int(utc(2024, 3, 10, 11, 0).timestamp() * 1000)
    assert keys("updated > %d" % ms) == ["ENG-10"]
    assert keys("updated >= %d" % ms) == ["ENG-1", "ENG-10"]
    items = [issue(1, "A-1", updated=dt.datetime(2020, 5, 6, 12, 15, 17, 831000, tzinfo=UTC))]
    assert keys("updated = 1588767317831", ctx(), items) == ["A-1"]
    assert keys("updated = 1588767317000", ctx(), items) == ["A-1"]         # same second
    assert keys("updated > 1588767317000", ctx(), items) == []              # not a later second
    assert keys("updated >= 1588767317999", ctx(), items) == ["A-1"]
    assert keys("updated > 1588767316999", ctx(), items) == ["A-1"]
    assert keys("updated > 9223372036854775807", ctx(), items) == []       # Long.MAX_VALUE
    assert keys("updated > -9223372036854775808", ctx(), items) == ["A-1"]


def test_date_functions_in_user_zone():
    # NOW = 2024-03-10 12:00Z = 2024-03-11 02:00 in Kiritimati (a Monday there)
    c = ctx(KIRITIMATI)
    d = lambda text: jql._date_function(text.split("(")[0], [a for a in [text.split("(")[1][:-1]] if a], c)  # noqa: E731
    assert d("now()") == NOW
    assert d("startOfDay()") == utc(2024, 3, 10, 10, 0)          # 2024-03-11 00:00 +14
    assert d("startOfDay(-1)") == utc(2024, 3, 9, 10, 0)
    assert d("startOfDay(+15m)") == utc(2024, 3, 10, 10, 15)
    assert d("endOfDay()") == utc(2024, 3, 11, 9, 59, 59, 999000)
    assert d("startOfWeek()") == utc(2024, 3, 9, 10, 0)          # Sunday 2024-03-10 local
    assert d("endOfWeek()") == utc(2024, 3, 16, 9, 59, 59, 999000)
    assert d("startOfMonth()") == utc(2024, 2, 29, 10, 0)        # 2024-03-01 00:00 +14
    assert d("startOfMonth(-1M)") == utc(2024, 1, 31, 10, 0)
    assert d("endOfMonth()") == utc(2024, 3, 31, 9, 59, 59, 999000)
    assert d("endOfMonth(+1)") == utc(2024, 4, 30, 9, 59, 59, 999000)
    assert d("startOfYear()") == utc(2023, 12, 31, 10, 0)
    assert d("endOfYear()") == utc(2024, 12, 31, 9, 59, 59, 999000)
    # Monday-based weeks on request
    c2 = ctx(KIRITIMATI, week_start=0)
    assert jql._date_function("startOfWeek", [], c2) == utc(2024, 3, 10, 10, 0)


def test_date_function_increments_follow_jira():
    c = ctx(UTC, now=utc(2024, 3, 31, 15, 0))                     # a Sunday, last day of March
    f = lambda name, *a: jql._date_function(name, list(a), c)   # noqa: E731
    assert f("startOfMonth", "-1M") == utc(2024, 2, 1)           # month moves first, then snaps
    assert f("startOfDay", "-1M") == utc(2024, 2, 29)            # Mar 31 - 1 month = Feb 29
    assert f("endOfMonth", "1M") == utc(2024, 4, 30, 23, 59, 59, 999000)
    assert f("startOfYear", "+1y") == utc(2025, 1, 1)
    assert f("startOfWeek", "+1") == utc(2024, 4, 7)             # default unit: weeks
    assert f("startOfWeek", "-1d") == utc(2024, 3, 30)           # snapped, then a day back
    assert f("endOfDay", "-2h") == utc(2024, 3, 31, 21, 59, 59, 999000)
    assert f("startOfDay", "+15m") == utc(2024, 3, 31, 0, 15)
    for bad in ("1x", "1.5d", " 1d", "d", "--1"):
        with pytest.raises(jql._Invalid):
            f("startOfDay", bad)
    with pytest.raises(jql._Invalid) as e:
        f("startOfDay", "1", "2")
    assert e.value.message == "Function 'startOfDay' expected between '0' and '1' arguments but received '2'."


def test_start_of_day_across_dst_change():
    c = ctx(NEW_YORK)      # NOW = 2024-03-10 08:00 EDT, the day clocks sprang forward
    assert jql._date_function("startOfDay", [], c) == utc(2024, 3, 10, 5, 0)    # 00:00 EST
    assert jql._date_function("startOfDay", ["+1"], c) == utc(2024, 3, 11, 4, 0)  # 00:00 EDT
    assert jql._date_function("endOfDay", [], c) == utc(2024, 3, 11, 3, 59, 59, 999000)
    assert jql._date_function("startOfDay", ["+3h"], c) == utc(2024, 3, 10, 8, 0)  # elapsed hours


def test_date_functions_in_queries():
    assert keys("updated >= startOfDay()") == ["ENG-1", "ENG-10"]
    assert keys("created > startOfMonth() and created < now()") == ["ENG-1", "ENG-2", "ENG-10"]
    assert keys("updated in (now(), EMPTY)") == []
    assert eval_error("created > currentUser()") == [
        "A date for the field 'created' provided by the function 'currentUser' is not valid."]


# ------------------------------------------------------------------ sorting

def test_default_order_is_key_desc():
    q = jql.parse("project in (ENG, OPS)")
    assert [i["key"] for i in jql.sort(q, ISSUES, ctx())] == ["OPS-1", "ENG-11", "ENG-10", "ENG-2", "ENG-1"]


def test_order_by_key_is_project_then_number():
    q = jql.parse("order by key")
    assert [i["key"] for i in jql.sort(q, ISSUES, ctx())] == ["ENG-1", "ENG-2", "ENG-10", "ENG-11", "OPS-1"]


def test_order_by_dates_and_multiple_keys():
    q = jql.parse("project = ENG order by updated")
    assert [i["key"] for i in jql.sort(q, ISSUES[:4], ctx())] == ["ENG-10", "ENG-1", "ENG-2", "ENG-11"]
    q = jql.parse("order by updated asc")
    assert [i["key"] for i in jql.sort(q, ISSUES, ctx())][0] == "ENG-11"
    q = jql.parse("order by type asc, key desc")
    assert [i["key"] for i in jql.sort(q, ISSUES, ctx())] == ["OPS-1", "ENG-1", "ENG-10", "ENG-11", "ENG-2"]


def test_order_by_priority_and_empties():
    q = jql.parse("order by priority desc")
    assert [i["key"] for i in jql.sort(q, ISSUES, ctx())] == ["ENG-10", "OPS-1", "ENG-1", "ENG-11", "ENG-2"]
    q = jql.parse("order by priority asc")
    assert [i["key"] for i in jql.sort(q, ISSUES, ctx())] == ["ENG-2", "ENG-11", "ENG-1", "OPS-1", "ENG-10"]
    q = jql.parse("order by assignee")
    assert [i["key"] for i in jql.sort(q, ISSUES, ctx())] == ["ENG-2", "ENG-1", "OPS-1", "ENG-10", "ENG-11"]


def test_sort_dates_by_whole_seconds_then_id():
    items = [issue(2, "A-2", updated=utc(2024, 1, 1, 0, 0, 0, 900000)),
             issue(1, "A-1", updated=utc(2024, 1, 1, 0, 0, 0, 100000)),
             issue(3, "A-3", updated=utc(2024, 1, 1, 0, 0, 1))]
    q = jql.parse("order by updated asc")
    assert [i["id"] for i in jql.sort(q, items, ctx())] == [1, 2, 3]   # same second: by id


def test_sort_ties_by_id():
    items = [issue(3, "A-3", updated=utc(2024, 1, 1)), issue(1, "A-1", updated=utc(2024, 1, 1)),
             issue(2, "A-2", updated=utc(2024, 1, 1))]
    for d in ("asc", "desc"):
        q = jql.parse("order by updated %s" % d)
        assert [i["id"] for i in jql.sort(q, items, ctx())] == [1, 2, 3]


def test_sort_errors():
    with pytest.raises(jql.JqlError) as e:
        jql.sort(jql.parse("order by nosuch"), ISSUES, ctx())
    assert e.value.messages == ["Not able to sort using field 'nosuch'."]   # TestDefaultOrderByValidator
    with pytest.raises(jql.JqlError) as e:
        jql.sort(jql.parse("order by text"), ISSUES, ctx())
    assert e.value.messages == ["Field 'text' does not support sorting."]
    assert eval_error("order by key, updated, KEY") == [
        "The sort field 'KEY' is referenced multiple times in the JQL sort."]
    assert eval_error("order by key desc, issuekey asc") == [
        "The sort field 'issuekey' is referenced multiple times in the JQL sort. "
        "Field 'issuekey' is an alias for field 'key'."]
    # validation collects the WHERE and ORDER BY messages together
    assert eval_error("project = nope order by nosuch") == [
        "The value 'nope' does not exist for the field 'project'.",
        "Not able to sort using field 'nosuch'."]


def test_lenient_validation_like_validatequery_warn():
    known = {i["key"]: i["key"] for i in ISSUES}
    c = ctx(known_keys=known)
    q = jql.parse("key in (ENG-1, ENG-99) order by nosuch, key desc")
    with pytest.raises(jql.JqlError):
        jql.matches(q, ISSUES[0], c)
    pred = jql.validate(q, c, strict=False)
    assert q.messages == ["An issue with key 'ENG-99' does not exist for field 'key'.",
                          "Not able to sort using field 'nosuch'."]
    assert [i["key"] for i in ISSUES if pred(i)] == ["ENG-1"]   # the unknown key is dropped
    assert jql.matches(q, ISSUES[0], c) is True                 # no raise after strict=False
    q3 = jql.parse("project in (ENG, NOPE) and status = Bogus or fixVersion = 1")
    pred3 = jql.validate(q3, ctx(known_values={"status": ["Open"]}), strict=False)
    assert len(q3.messages) == 3 and not any(pred3(i) for i in ISSUES)
    assert [i["key"] for i in jql.sort(q, ISSUES[:2], c)] == ["ENG-2", "ENG-1"]
    q2 = jql.parse("key = ENG-1 or key = ENG-99")
    assert [i["key"] for i in jql.search(q2, ISSUES, c, strict=False)] == ["ENG-1"]
    assert q2.messages == ["An issue with key 'ENG-99' does not exist for field 'key'."]
    with pytest.raises(jql.JqlError):
        jql.search("key = ENG-99", ISSUES, c)


def test_search_helper():
    got = jql.search("labels = backend ORDER BY created ASC", ISSUES, ctx())
    assert [i["key"] for i in got] == ["OPS-1", "ENG-1"]
    with pytest.raises(jql.JqlError):
        jql.search("project = NOPE", [], ctx())          # rejected even with nothing to match


def test_error_is_an_exception_with_messages():
    e = jql.JqlError("x")
    assert e.messages == ["x"]
    assert isinstance(jql.JqlError(["a", "b"]), Exception)
    assert jql.UNBOUNDED_MESSAGE.startswith("Unbounded JQL queries are not allowed here.")
