"""PHQ-9, GAD-7, MOAA/S and CADSS scoring: totals, bands at every boundary, refusals."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessions.scales import (
    CADSS_MAX,
    CADSS_MIN,
    GAD7_ITEM_COUNT,
    ITEM_MAX,
    ITEM_MIN,
    MOAAS_MAX,
    MOAAS_MIN,
    PHQ9_ITEM_COUNT,
    Band,
    cadss_in_range,
    gad7_band,
    gad7_total,
    moaas_label,
    phq9_band,
    phq9_self_harm_flag,
    phq9_total,
)


@pytest.mark.parametrize(
    ("total", "code"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_band_boundaries(total, code):
    assert phq9_band(total).code == code


def test_phq9_moderately_severe_band_has_readable_label():
    assert phq9_band(17) == Band("moderately_severe", "Moderately severe", 15, 19)


@pytest.mark.parametrize(
    ("total", "code"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_band_boundaries(total, code):
    assert gad7_band(total).code == code


@pytest.mark.parametrize("total", [-1, 28, True, 10.0, "10", None])
def test_phq9_band_refuses_totals_outside_0_to_27(total):
    with pytest.raises(ValueError, match="PHQ-9 total"):
        phq9_band(total)


@pytest.mark.parametrize("total", [-1, 22, False, 5.0])
def test_gad7_band_refuses_totals_outside_0_to_21(total):
    with pytest.raises(ValueError, match="GAD-7 total"):
        gad7_band(total)


def test_phq9_total_adds_the_nine_answers():
    assert phq9_total([0, 1, 2, 3, 0, 1, 2, 3, 1]) == 13
    assert phq9_total((3,) * 9) == 27
    assert phq9_total([0] * 9) == 0


def test_gad7_total_adds_the_seven_answers():
    assert gad7_total([1, 2, 3, 0, 1, 2, 3]) == 12
    assert gad7_total((3,) * 7) == 21


@pytest.mark.parametrize("count", [0, 8, 10])
def test_phq9_refuses_wrong_number_of_answers(count):
    with pytest.raises(ValueError, match=f"exactly 9 item answers, got {count}"):
        phq9_total([1] * count)


@pytest.mark.parametrize("count", [0, 6, 8, 9])
def test_gad7_refuses_wrong_number_of_answers(count):
    with pytest.raises(ValueError, match=f"exactly 7 item answers, got {count}"):
        gad7_total([1] * count)


@pytest.mark.parametrize("bad_answer", [-1, 4, 1.0, "2", None, True])
def test_phq9_refuses_an_answer_that_is_not_a_whole_number_from_0_to_3(bad_answer):
    items = [0] * 9
    items[4] = bad_answer
    with pytest.raises(ValueError, match="PHQ-9 item 5 must be a whole number from 0 to 3"):
        phq9_total(items)


@pytest.mark.parametrize("bad_answer", [-1, 4, 2.5])
def test_gad7_refuses_an_answer_outside_0_to_3(bad_answer):
    items = [0] * 7
    items[6] = bad_answer
    with pytest.raises(ValueError, match="GAD-7 item 7 must be a whole number"):
        gad7_total(items)


@pytest.mark.parametrize("not_a_list", ["000000000", None, 9])
def test_phq9_refuses_answers_that_are_not_a_list(not_a_list):
    with pytest.raises(ValueError, match="PHQ-9"):
        phq9_total(not_a_list)


@pytest.mark.parametrize(("item9", "flagged"), [(0, False), (1, True), (2, True), (3, True)])
def test_phq9_self_harm_flag_raised_by_any_answer_above_0_on_item_9(item9, flagged):
    assert phq9_self_harm_flag([3] * 8 + [item9]) is flagged


def test_phq9_self_harm_flag_ignores_other_items():
    assert phq9_self_harm_flag([0, 0, 0, 0, 0, 0, 0, 3, 0]) is False


def test_phq9_self_harm_flag_refuses_invalid_answers():
    with pytest.raises(ValueError, match="exactly 9"):
        phq9_self_harm_flag([1] * 7)


answers = st.integers(min_value=ITEM_MIN, max_value=ITEM_MAX)


@given(st.lists(answers, min_size=PHQ9_ITEM_COUNT, max_size=PHQ9_ITEM_COUNT))
def test_phq9_total_is_the_sum_and_its_band_contains_it(items):
    total = phq9_total(items)
    band = phq9_band(total)
    assert total == sum(items)
    assert band.low <= total <= band.high
    assert total in band


@given(st.lists(answers, min_size=GAD7_ITEM_COUNT, max_size=GAD7_ITEM_COUNT))
def test_gad7_total_is_the_sum_and_its_band_contains_it(items):
    total = gad7_total(items)
    band = gad7_band(total)
    assert total == sum(items)
    assert band.low <= total <= band.high


@pytest.mark.parametrize(
    ("score", "label"),
    [
        (5, "Responds readily to name spoken in normal tone"),
        (0, "No response to painful stimulus (trapezius squeeze)"),
    ],
)
def test_moaas_label_describes_the_ends_of_the_scale(score, label):
    assert moaas_label(score) == label


def test_moaas_label_has_a_distinct_label_for_every_score():
    labels = [moaas_label(score) for score in range(MOAAS_MIN, MOAAS_MAX + 1)]
    assert len(set(labels)) == 6


@pytest.mark.parametrize("score", [-1, 6, 3.0, None, True])
def test_moaas_label_refuses_scores_outside_0_to_5(score):
    with pytest.raises(ValueError, match="MOAA/S score must be a whole number from 0 to 5"):
        moaas_label(score)


@pytest.mark.parametrize(
    ("score", "in_range"),
    [
        (CADSS_MIN - 1, False),
        (CADSS_MIN, True),
        (40, True),
        (CADSS_MAX, True),
        (CADSS_MAX + 1, False),
        (10.0, False),
        (None, False),
        (True, False),
    ],
)
def test_cadss_in_range_accepts_whole_numbers_0_to_92(score, in_range):
    assert cadss_in_range(score) is in_range
