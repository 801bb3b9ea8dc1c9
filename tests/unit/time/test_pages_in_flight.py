"""``run_pages``: a step's pages run several at a time over disjoint, measured key ranges; results
are taken in key order, so the cursor only passes pages that, with every page before them, are
done; a crash resumes before the first unfinished page and every entity is processed once.

A stand-in step over keys ``k01``… : an entity is processed once for the date (a page selects only
the ones not yet done, like the real steps), and a page can be made slow or fail."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from activities.time.activity import run_pages
from domain.credit.end_of_day import Step, StepPage


@dataclass
class Step_:
    keys: list[str]
    limit: int
    delays: dict[str | None, float] = field(default_factory=dict)  # by the page's `after`
    fail: str | None = "never"  # the `after` of a page that raises after its delay
    done: list[str] = field(default_factory=list)
    running: int = 0
    most_running: int = 0

    async def measure(self, after: str | None) -> str | None:
        rest = [k for k in self.keys if after is None or k > after]
        return rest[self.limit - 1] if len(rest) >= self.limit else None

    async def run(self, after: str | None, until: str | None) -> StepPage:
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await asyncio.sleep(self.delays.get(after, 0.001))
            if after == self.fail:
                raise RuntimeError("the database went away")
            todo = [k for k in self.keys if (after is None or k > after) and (until is None or k <= until)
                    and k not in self.done]
            if until is None:
                todo = todo[:self.limit]
            self.done += todo  # committed
            nxt = until if until is not None else (todo[-1] if len(todo) >= self.limit else None)
            return StepPage(step=Step.ACCRUE_INTEREST, business_date="2025-01-27", processed=len(todo),
                            failures=[], events=[], next_after=nxt)
        finally:
            self.running -= 1


def keys(n: int) -> list[str]:
    return [f"k{i:02d}" for i in range(1, n + 1)]


async def test_pages_run_two_at_a_time_and_come_back_in_key_order():
    step = Step_(keys(10), 3, delays={None: 0.05})  # the first page is the slowest
    cursors: list[str | None] = []

    async def on_page(page: StepPage) -> None:
        cursors.append(page.next_after)

    await run_pages(step.run, step.measure, None, 2, on_page)
    assert cursors == ["k03", "k06", "k09", None]
    assert sorted(step.done) == keys(10) and len(step.done) == 10
    assert step.most_running == 2
    assert step.done[:3] != keys(3)  # page 2 committed before page 1: the order above is run_pages'


async def test_a_crash_with_a_later_page_committed_resumes_before_the_earlier_one():
    step = Step_(keys(10), 3)
    cursors: list[str | None] = []

    async def on_page(page: StepPage) -> None:
        cursors.append(page.next_after)

    async def dying(after, until):  # page 1 dies after page 2, (k03, k06], has committed
        if after is None:
            await asyncio.sleep(0.05)
            raise RuntimeError("the worker died")
        return await step.run(after, until)

    with pytest.raises(RuntimeError):
        await run_pages(dying, step.measure, None, 2, on_page)
    assert cursors == []  # the heartbeat never passed page 1
    assert step.done == ["k04", "k05", "k06"]  # page 2 did commit

    await run_pages(step.run, step.measure, None, 2, on_page)  # the retried attempt, from the cursor
    assert sorted(step.done) == keys(10) and len(step.done) == 10  # every entity once
    assert cursors == ["k03", "k06", "k09", None]


async def test_an_error_cancels_the_pages_still_running():
    step = Step_(keys(12), 3, delays={"k03": 0.5}, fail="k06")

    async def on_page(page: StepPage) -> None:
        pass

    with pytest.raises(RuntimeError):
        await run_pages(step.run, step.measure, None, 3, on_page)
    assert step.running == 0 and "k04" not in step.done  # the slow page was cancelled, not committed


async def test_entities_that_appear_after_the_last_page_was_measured_are_taken_too():
    step = Step_(keys(4), 3)
    measure = step.measure

    async def growing(after):
        end = await measure(after)
        if after == "k03":  # measured as the last page; then three facilities are activated
            step.keys += ["k05", "k06", "k07"]
        return end

    seen: list[str | None] = []

    async def on_page(page: StepPage) -> None:
        seen.append(page.next_after)

    await run_pages(step.run, growing, None, 2, on_page)
    assert sorted(step.done) == keys(7)
    assert seen == ["k03", "k06", None]
