"""The shipped recipes resolve to the same recipe hash release after release.

A dataset's manifest records its recipe's hash, and a rerun resumes only a dataset of the same hash:
a field added to the recipe models must not change what an existing recipe dumps. A deliberate
change to a shipped recipe updates its line here.
"""

from __future__ import annotations

import pytest
from helpers import RECIPES

from factory.recipe.loader import load_recipe, recipe_hash

HASHES = {
    "cloth/corner_pull.yaml": "d6c826ce37e8fe217e2eb534318e444959a7cafb8f19c6b0de5e6165f0100a77",
    "cloth/drape.yaml": "6d8d3f7a23ee29adf8adb4aa32364094adb9b9512aee9c83f12b2c8809759e6a",
    "cloth/drape_256.yaml": "e68c623cdf1d39bd4aa359b481552ca8f39850bce4a72c77202870a6b9464458",
    "collision/billiards.yaml": "134fd23b495e72316d511072ac439d9dd38a2b037c28bab3388c3949f201b6c1",
    "collision/head_on.yaml": "0893b7e8b40fcefdf04ba3281ae4bb53145acd9ab1e655c088ce3a158a8b7447",
    "collision/push_target.yaml": "390edfa55e8ad2f0511175aa046285ffabb00dd4804600ae644d3041255d9532",
    "collision/sliding_box.yaml": "b0a2f65841460585fdd3decf1ccb573989a626b37dbf6e97793aaaac19b69f62",
    "fluid/dam_break.yaml": "24caadc5b266faca5fffeb6b2634eaf35179c35c9da227db88709b398a7b214c",
    "fluid/dam_break_256.yaml": "2920e4fa73a0195629653bd5dbd9a06a0f5eddbc364edc6bf72c876524fbbcdb",
    "fluid/pour.yaml": "0349963a76989b07a5b151202225f10b7075022effca86c3395ad035880d2022",
    "fluid/weir.yaml": "a947eefa1556d6d867ef09d83add7354b456e15336533904ec6c2a416e3ccaa7",
    "phyworld/elastic_collision.yaml": "60441d89bfeea9fd3c24a210d2161909a01879eec8bebf7362708d233eab05b9",
    "phyworld/parabola.yaml": "976245afa8328c991f0d594e41354cb266d49cf79db980966d3cc2d357c4203c",
    "phyworld/uniform_motion.yaml": "99d35f517347f89f2a073bb7d63acdc7b5ce1d773c8eb253975b888b237bc37f",
    "unity/head_on.yaml": "24a6acaa95a349ab8d2aa5a223c4d43a03e85e6440b178ca1c9d6247a62ed668",
}


@pytest.mark.parametrize("name", sorted(HASHES))
def test_a_shipped_recipe_keeps_its_hash(name):
    assert recipe_hash(load_recipe(RECIPES / name)) == HASHES[name]
