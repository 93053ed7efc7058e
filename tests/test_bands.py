"""Band matching: the documented plans for real sensor band sets (no torch needed)."""

from __future__ import annotations

import pytest

from geobench.bands import (
    SAR_WAVELENGTH_NM,
    is_sar_band,
    match_bands,
    normalize_band_name,
    wavelength_plan,
)
from geobench.errors import ModelError, UnknownNameError
from geobench.manifest import Band, Modality
from geobench.models import band_sets as bs
from geobench.models.registry import get_spec, plan_bands

S2_L2A = [Band(n, bs.S2_NM[n], 10.0) for n in
          ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")]
S1 = [Band("VV", None, 10.0), Band("VH", None, 10.0)]
# Planet / aerial 4-band imagery (centre wavelengths of PlanetScope Dove-R / the IGN aerial camera).
RGBN = [Band("red", 665.0, 3.0), Band("green", 565.0, 3.0), Band("blue", 490.0, 3.0),
        Band("nir", 865.0, 3.0)]
# Landsat-8 OLI numbering: B5 is NIR (865 nm), not Sentinel-2's red edge B05 (704 nm).
L8 = [Band("B2", 482.0), Band("B3", 561.5), Band("B4", 654.5), Band("B5", 865.0)]


def plan_of(matches):  # (target, source, reason) triples
    return [(m.target, m.source, m.reason) for m in matches]


@pytest.mark.parametrize(("a", "b"), [("B8A", "b8a"), ("B08A", "B8a"), ("B04", "B4"),
                                      ("RED", "red"), ("r", "Red"), ("swir16", "SWIR_1"),
                                      ("VV", "vv"), ("nir", "NIR")])
def test_names_normalise_to_the_same_key(a: str, b: str) -> None:
    assert normalize_band_name(a) == normalize_band_name(b)


@pytest.mark.parametrize(("a", "b"), [("B8A", "B08"), ("B1", "B10"), ("B11", "B1"),
                                      ("VV", "VH")])
def test_different_bands_stay_different(a: str, b: str) -> None:
    assert normalize_band_name(a) != normalize_band_name(b)


def test_sentinel2_into_rgb_model_picks_b04_b03_b02() -> None:
    plan = match_bands(S2_L2A, bs.RGB)
    assert plan_of(plan) == [("red", "B04", "wavelength"), ("green", "B03", "wavelength"),
                             ("blue", "B02", "wavelength")]
    assert [m.source_index for m in plan] == [3, 2, 1]
    assert all(m.distance_nm == 0.0 for m in plan)


def test_sentinel1_into_rgb_model_is_vv_vh_vv() -> None:
    plan = match_bands(S1, bs.RGB)
    assert plan_of(plan) == [("red", "VV", "sar_rgb"), ("green", "VH", "sar_rgb"),
                             ("blue", "VV", "sar_rgb")]
    assert [m.source_index for m in plan] == [0, 1, 0]


def test_rgbn_into_prithvi_hls_by_name_and_wavelength() -> None:
    plan = match_bands(RGBN, bs.HLS_6)
    assert plan_of(plan) == [("BLUE", "blue", "name"), ("GREEN", "green", "name"),
                             ("RED", "red", "name"), ("NIR_NARROW", "nir", "wavelength"),
                             ("SWIR_1", None, "zero"), ("SWIR_2", None, "zero")]
    assert [m.source_index for m in plan] == [2, 1, 0, 3, None, None]


def test_rgbn_without_names_into_prithvi_by_wavelength() -> None:
    unnamed = [Band(f"band{i + 1}", b.wavelength_nm) for i, b in enumerate(RGBN)]
    plan = match_bands(unnamed, bs.HLS_6)
    assert plan_of(plan) == [("BLUE", "band3", "wavelength"), ("GREEN", "band2", "wavelength"),
                             ("RED", "band1", "wavelength"), ("NIR_NARROW", "band4", "wavelength"),
                             ("SWIR_1", None, "zero"), ("SWIR_2", None, "zero")]
    assert plan[0].distance_nm == pytest.approx(8.0)


def test_sentinel2_into_prithvi_uses_b8a_for_narrow_nir() -> None:
    plan = match_bands(S2_L2A, bs.HLS_6)
    assert [m.source for m in plan] == ["B02", "B03", "B04", "B8A", "B11", "B12"]


def test_l2a_into_l1c_model_zero_fills_cirrus() -> None:
    plan = match_bands(S2_L2A, bs.S2_L1C_13)
    by_target = {m.target: m for m in plan}
    assert by_target["B10"].reason == "zero" and by_target["B10"].source is None
    assert all(m.reason == "name" and m.source == m.target for m in plan if m.target != "B10")


def test_same_name_different_sensor_is_refused_by_wavelength() -> None:
    # Landsat B5 (865 nm) must not feed a Sentinel-2 model's B05 (704 nm): nearest is B4 (654.5).
    plan = match_bands(L8, bs.s2("B05", "B8A"))
    assert plan_of(plan) == [("B05", "B4", "wavelength"), ("B8A", "B5", "wavelength")]


def test_tolerance_decides_between_nearest_and_zero() -> None:
    src = [Band("x", 800.0)]
    target = [bs.BandSpec("t", 950.0)]
    assert match_bands(src, target)[0].reason == "zero"
    m = match_bands(src, target, tolerance_nm=200.0)[0]
    assert (m.reason, m.source, m.distance_nm) == ("wavelength", "x", 150.0)


def test_ties_go_to_the_earlier_band() -> None:
    src = [Band("a", 600.0), Band("b", 700.0)]
    assert match_bands(src, [bs.BandSpec("t", 650.0)])[0].source == "a"


def test_sar_polarisations_fill_sar_inputs_in_order() -> None:
    assert plan_of(match_bands(S1, bs.S1_GRD)) == [("VV", "VV", "name"), ("VH", "VH", "name")]
    hh = [Band("HH"), Band("HV")]
    assert plan_of(match_bands(hh, bs.S1_GRD)) == [("VV", "HH", "sar"), ("VH", "HV", "sar")]


def test_single_grey_sar_image_feeds_all_three_colours() -> None:
    plan = match_bands([Band("gray", None, 10.0)], bs.HLS_6)
    assert plan_of(plan) == [("BLUE", "gray", "sar_rgb"), ("GREEN", "gray", "sar_rgb"),
                             ("RED", "gray", "sar_rgb"), ("NIR_NARROW", None, "zero"),
                             ("SWIR_1", None, "zero"), ("SWIR_2", None, "zero")]


def test_elevation_never_feeds_colour_channels() -> None:
    plan = match_bands([Band("DEM")], bs.RGB)
    assert [m.reason for m in plan] == ["zero", "zero", "zero"]


def test_sar_flags_override_names() -> None:
    plan = match_bands([Band("amplitude")], bs.RGB, sar_source=[True])
    assert [m.source for m in plan] == ["amplitude"] * 3


def test_sar_band_detection() -> None:
    assert is_sar_band(Band("VV")) and is_sar_band(Band("vh_asc")) and is_sar_band(Band("HH"))
    assert not is_sar_band(Band("B04", 664.6)) and not is_sar_band(Band("DEM"))


def test_wavelength_plan_gives_sar_its_pseudo_wavelength_and_drops_elevation() -> None:
    plan, dropped = wavelength_plan(S2_L2A[:2] + S1 + [Band("DEM")])
    assert [m.target_wavelength_nm for m in plan] == [442.7, 492.7, SAR_WAVELENGTH_NM,
                                                      SAR_WAVELENGTH_NM]
    assert [m.reason for m in plan] == ["dataset", "dataset", "sar", "sar"]
    assert dropped == [4]


def test_labels_length_is_checked() -> None:
    with pytest.raises(ValueError, match="source_labels"):
        match_bands(S1, bs.RGB, source_labels=["only one"])


# ---- plans of registry models (bands -> channels; still no torch) ---------------------------


def test_default_plan_reads_the_first_optical_modality() -> None:
    plan = plan_bands(get_spec("resnet50"), {"s1": S1, "s2": S2_L2A})
    assert plan.required_modalities == ["s2"]
    assert [m.source for m in plan.matches["optical"]] == ["s2/B04", "s2/B03", "s2/B02"]
    assert [(s.modality, s.index) for s in plan.sources["optical"]] == [("s2", 3), ("s2", 2),
                                                                       ("s2", 1)]
    assert "s1/VV: not needed by the model's inputs" not in plan.ignored  # s1 was not chosen
    assert "s2/B08: not needed by the model's inputs" in plan.ignored


def test_sar_only_dataset_feeds_rgb_model() -> None:
    plan = plan_bands(get_spec("convnext_large"), {"sar": S1})
    assert [m.source for m in plan.matches["optical"]] == ["sar/VV", "sar/VH", "sar/VV"]


def test_terramind_takes_s1_and_s2_as_separate_modalities_when_chosen() -> None:
    spec = get_spec("terramind")
    s2_only = plan_bands(spec, {"s1": S1, "s2": S2_L2A})
    assert list(s2_only.sources) == ["S2L2A"] and s2_only.required_modalities == ["s2"]
    both = plan_bands(spec, {"s1": S1, "s2": S2_L2A}, ["s1", "s2"])
    assert list(both.sources) == ["S2L2A", "S1GRD"]
    assert [m.source for m in both.matches["S1GRD"]] == ["s1/VV", "s1/VH"]
    assert [m.reason for m in both.matches["S2L2A"]] == ["name"] * 12


def test_terramind_with_a_manifest_modality_kind() -> None:
    grey = Modality("img", "Sentinel-1", "sar", "uint8", (Band("gray"),))
    plan = plan_bands(get_spec("terramind_v1_large"), {"img": grey})
    assert list(plan.sources) == ["S1GRD"]
    assert [m.source for m in plan.matches["S1GRD"]] == ["img/gray", "img/gray"]


def test_two_sar_modalities_for_one_terramind_input_is_an_error() -> None:
    with pytest.raises(ModelError, match="both map to the model's S1GRD"):
        plan_bands(get_spec("terramind"), {"s1a": S1, "s1d": S1, "s2": S2_L2A},
                   ["s1a", "s1d", "s2"])


def test_wavelength_aware_model_takes_the_dataset_bands() -> None:
    plan = plan_bands(get_spec("dofa"), {"s1": S1, "s2": S2_L2A}, ["s2", "s1"])
    assert plan.in_chans("optical") == 14
    assert plan.wavelengths_um("optical")[:2] == [pytest.approx(0.4427), pytest.approx(0.4927)]
    assert plan.wavelengths_um("optical")[-1] == pytest.approx(5.405)


def test_unknown_modality_suggests_names() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 's2'"):
        plan_bands(get_spec("resnet50"), {"s1": S1, "s2": S2_L2A}, ["s3"])


def test_no_usable_band_is_an_error() -> None:
    with pytest.raises(ModelError, match="none of the bands"):
        plan_bands(get_spec("resnet50"), {"dem": [Band("DEM")]})


def test_co_polarisation_goes_first_whatever_the_dataset_order() -> None:
    vh_first = [Band("VH"), Band("VV")]  # so2sat's order
    assert [m.source for m in match_bands(vh_first, bs.RGB)] == ["VV", "VH", "VV"]
    asc = [Band("VV_asc"), Band("VH_asc"), Band("VV/VH_asc")]  # pastis s1a
    assert plan_of(match_bands(asc, bs.S1_GRD)) == [("VV", "VV_asc", "sar"),
                                                    ("VH", "VH_asc", "sar")]
    assert is_sar_band(Band("VV/VH_asc"))


# ---- the real catalogue: every dataset x every model has a plan ------------------------------


def _manifests():  # type: ignore[no-untyped-def]
    from geobench.manifest import load_all

    return load_all()


@pytest.mark.parametrize("as_modality", [True, False], ids=["modality", "band-lists"])
def test_every_dataset_has_a_plan_for_every_model(as_modality: bool) -> None:
    from geobench.models.registry import list_models

    manifests = _manifests()
    assert len(manifests) == 19
    for ds, man in manifests.items():
        mods = {m.name: (m if as_modality else list(m.bands)) for m in man.modalities}
        for key in list_models():
            plan = plan_bands(get_spec(key), mods)
            fed = [s for srcs in plan.sources.values() for s in srcs if s.modality is not None]
            assert fed, (ds, key)


@pytest.mark.parametrize("as_modality", [True, False], ids=["modality", "band-lists"])
def test_sar_datasets_from_the_catalogue(as_modality: bool) -> None:
    man = _manifests()

    def mods(ds: str) -> dict:  # type: ignore[type-arg]
        return {m.name: (m if as_modality else list(m.bands)) for m in man[ds].modalities}

    caffe = mods("caffe")
    assert [m.source for m in plan_bands(get_spec("resnet50"), caffe).matches["optical"]] == \
        ["img/gray"] * 3
    tm = plan_bands(get_spec("terramind"), caffe)
    assert list(tm.sources) == ["S1GRD"]
    dofa = plan_bands(get_spec("dofa"), caffe)
    assert dofa.wavelengths_um("optical") == [pytest.approx(5.405)]
    so2sat = plan_bands(get_spec("resnet50"), mods("so2sat"), ["s1"])
    assert [m.source for m in so2sat.matches["optical"]] == ["s1/VV", "s1/VH", "s1/VV"]
    pastis = plan_bands(get_spec("terramind_v1_large"), mods("pastis"), ["s1a", "s2"])
    assert [m.source for m in pastis.matches["S1GRD"]] == ["s1a/VV_asc", "s1a/VH_asc"]
    kuro = plan_bands(get_spec("clay"), mods("kuro_siwo"), ["sar", "dem"])
    assert [m.source for m in kuro.matches["optical"]] == ["sar/vv", "sar/vh"]
    assert "dem/dem: no wavelength and not SAR" in kuro.ignored
