"""The Content Security Policy the explorer sends is one its pages satisfy: every page,
with its scripts run and its forms used (search, console, sign-in), raises no
``securitypolicyviolation`` event and logs no CSP error, and every response carries the
policy and the other security headers."""

from __future__ import annotations

from typing import Any

import pytest

from triedbefore.web.app import CONTENT_SECURITY_POLICY, SECURITY_HEADERS

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' '
                    + (e.sourceFile || '') + ':' + (e.lineNumber || 0));
});
"""

PAGES = ["/", "/search?q=hospital+at+home", "/solutions", "/solutions/SOL-TELE",
         "/solutions/SOL-HIU?as_of=2016-01-01", "/initiatives/INI-0021", "/evaluations",
         "/evaluations/EVAL-0004", "/sites/RBL", "/zombies", "/gap-map",
         "/deviance?measure=A%26E+attendances", "/check?q=telehealth+for+COPD", "/method",
         "/graph?node=solution:SOL-TELE", "/graph?node=site:RBL", "/api", "/login",
         "/console", "/console?q=MATCH+(s%3ASolution)+RETURN+s.id+AS+id+LIMIT+5",
         "/console?q=CREATE+(%3AX)", "/solutions/NOPE"]


def test_every_page_satisfies_the_content_security_policy(page: Any, page_problems: Any
                                                          ) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    violations: dict[str, list[str]] = {}
    for url in PAGES:
        response = page.goto(url, wait_until="networkidle")
        assert response is not None
        headers = response.headers
        assert headers.get("content-security-policy") == CONTENT_SECURITY_POLICY, url
        for name, value in SECURITY_HEADERS.items():
            assert headers.get(name.lower()) == value, (url, name)
        found = page.evaluate("window.__csp")
        if found:
            violations[url] = found
    # use the forms: the search box, the console's editor and the sign-in form
    page.goto("/search")
    page.get_by_role("searchbox").first.fill("virtual wards")
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    page.goto("/console")
    page.locator("#q").fill("MATCH (s:Solution) RETURN s.name AS name LIMIT 3")
    page.locator("#console-form button[type=submit]").first.click()
    page.wait_for_load_state("networkidle")
    if page.evaluate("window.__csp"):
        violations["forms"] = page.evaluate("window.__csp")
    csp_errors = [m for m in page_problems.all() if "Content Security Policy" in m]
    assert not violations, violations
    assert not csp_errors, csp_errors
