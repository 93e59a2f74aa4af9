"""quality.holdout takes one [low, high] band or a list of bands; every band's episodes are OOD."""

import pyarrow as pa
import pytest
from pydantic import ValidationError

from factory.model.split import split_episodes
from factory.recipe.schema import QualityOptions


def test_list_of_bands_holds_out_both_sides_of_the_training_range():
    table = pa.table({"episode": list(range(10)), "param__ball__speed": [float(v) for v in range(10)]})
    split = split_episodes(table, {"ball.speed": [[0.0, 1.5], [7.5, 9.0]]})
    assert split.ood == [0, 1, 8, 9]
    assert sorted(split.train + split.val + split.test) == list(range(2, 8))


def test_single_band_and_list_form_read_the_same():
    assert QualityOptions(holdout={"a.b": [1, 2]}).bands() == {"a.b": [(1.0, 2.0)]}
    assert QualityOptions(holdout={"a.b": [[1, 2]]}).bands() == {"a.b": [(1.0, 2.0)]}


def test_a_band_of_three_numbers_is_refused():
    with pytest.raises(ValidationError, match="at most 2 items"):
        QualityOptions(holdout={"a.b": [1, 2, 3]})
