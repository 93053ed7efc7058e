"""The registry's entries: the 14 GEO-Bench-2 seed backbones under their official keys, and the
small smoke model. Facts only (no torch); :mod:`geobench.models.registry` is the door to them.

Display names and sizes follow the official leaderboard's ``model_info.json``; library references
follow timm 1.0, torchgeo 0.8.1 and terratorch 1.2.4. ``backbone_params`` were measured by building
each encoder with geobench (``python -m geobench.models check KEY``); the tests check they still
hold.
"""

from __future__ import annotations

from geobench.models import band_sets as bs
from geobench.models.spec import (
    ALL_TASKS,
    OPTICAL,
    ModelSpec,
    Normalization,
    WeightsSource,
)

IMAGENET = Normalization((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "RGB scaled to [0, 1]")
# TerraMind v1 pretraining statistics (terratorch v1_pretraining_mean/std).
TERRAMIND = {
    "S2L2A": Normalization(
        (1390.458, 1503.317, 1718.197, 1853.91, 2199.1, 2779.975, 2987.011, 3083.234, 3132.22,
         3162.988, 2424.884, 1857.648),
        (2106.761, 2141.107, 2038.973, 2134.138, 2085.321, 1889.926, 1820.257, 1871.918,
         1753.829, 1797.379, 1434.261, 1334.311), "Sentinel-2 L2A reflectance x 10000"),
    "S1GRD": Normalization((-12.599, -20.293), (5.195, 5.890), "Sentinel-1 GRD backscatter, dB"),
}


def _timm(repo: str) -> WeightsSource:
    return WeightsSource(repo_id=f"timm/{repo}", filename="model.safetensors",
                         library_ref=f"timm.create_model('{repo}', pretrained=True)")


def _torchgeo(repo: str, revision: str, filename: str, ref: str) -> WeightsSource:
    prefix = filename.rsplit("-", 1)[1].split(".")[0]  # torch.hub convention: sha256 prefix
    return WeightsSource(repo_id=f"torchgeo/{repo}", filename=filename, revision=revision,
                         sha256=prefix, library_ref=f"torchgeo.models.{ref}")


_SATLAS_REV = "081d6607431bf36bdb59c223777cbb267131b8f2"
_VIT_L_4 = (5, 11, 17, 23)
_VIT_B_4 = (2, 5, 8, 11)

SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        key="resnet50", family="timm", library="timm",
        architecture="resnet50.a1_in1k", input_bands={OPTICAL: bs.RGB}, patch_size=None,
        default_image_size=224, out_indices=(1, 2, 3, 4), wavelength_aware=False,
        multi_modal=False, task_types=ALL_TASKS, license="Apache-2.0 (timm weights)",
        weights=_timm("resnet50.a1_in1k"), backbone_params=23_508_032,
        normalization={OPTICAL: IMAGENET}, paper="https://arxiv.org/abs/2110.00476",
        notes="timm's default resnet50 weights (ResNet strikes back A1), as terratorch's 'resnet50'."),
    ModelSpec(
        key="convnext_large_fb_in22k", family="timm",
        library="timm", architecture="convnext_large.fb_in22k", input_bands={OPTICAL: bs.RGB},
        patch_size=None, default_image_size=224, out_indices=(0, 1, 2, 3), wavelength_aware=False,
        multi_modal=False, task_types=ALL_TASKS, license="MIT (facebookresearch/ConvNeXt)",
        weights=_timm("convnext_large.fb_in22k"), backbone_params=196_227_264,
        normalization={OPTICAL: IMAGENET}, paper="https://arxiv.org/abs/2201.03545"),
    ModelSpec(
        key="convnext_xlarge_fb_in22k", family="timm",
        library="timm", architecture="convnext_xlarge.fb_in22k", input_bands={OPTICAL: bs.RGB},
        patch_size=None, default_image_size=224, out_indices=(0, 1, 2, 3), wavelength_aware=False,
        multi_modal=False, task_types=ALL_TASKS, license="MIT (facebookresearch/ConvNeXt)",
        weights=_timm("convnext_xlarge.fb_in22k"), backbone_params=348_143_872,
        normalization={OPTICAL: IMAGENET}, paper="https://arxiv.org/abs/2201.03545"),
    ModelSpec(
        key="dinov3_vitl16", family="timm", library="timm",
        architecture="vit_large_patch16_dinov3.sat493m", input_bands={OPTICAL: bs.RGB},
        patch_size=16, default_image_size=256, out_indices=_VIT_L_4, wavelength_aware=False,
        multi_modal=False, task_types=ALL_TASKS, license="DINOv3 License (Meta)",
        weights=_timm("vit_large_patch16_dinov3.sat493m"), backbone_params=303_077_376,
        normalization={OPTICAL: Normalization((0.430, 0.411, 0.296), (0.213, 0.156, 0.143),
                                              "SAT-493M (Maxar RGB) statistics, [0, 1] scale")},
        paper="https://arxiv.org/abs/2508.10104",
        notes="ViT-L/16 with 4 register tokens and RoPE, distilled on SAT-493M satellite images."),
    ModelSpec(
        key="dinov3_convnext_large", family="timm",
        library="timm", architecture="convnext_large.dinov3_lvd1689m",
        input_bands={OPTICAL: bs.RGB}, patch_size=None, default_image_size=224,
        out_indices=(0, 1, 2, 3), wavelength_aware=False, multi_modal=False,
        task_types=ALL_TASKS, license="DINOv3 License (Meta)",
        weights=_timm("convnext_large.dinov3_lvd1689m"), backbone_params=196_227_264,
        normalization={OPTICAL: IMAGENET}, paper="https://arxiv.org/abs/2508.10104",
        notes="ConvNeXt-L distilled from DINOv3 7B on LVD-1689M web images."),
    ModelSpec(
        key="ssl4eos12_resnet50_sentinel2_all_decur", family="torchgeo",
        library="torchgeo", architecture="resnet50 (timm), 13 bands",
        input_bands={OPTICAL: bs.S2_L1C_13}, patch_size=None, default_image_size=224,
        out_indices=(1, 2, 3, 4), wavelength_aware=False, multi_modal=False,
        task_types=ALL_TASKS, license="CC-BY-4.0",
        weights=_torchgeo("decur", "eba7ae5945d482a4319be046d34b552db5dd9950",
                          "rn50_ssl4eo-s12_ms_decur_ep100-fc6b09ff.pth",
                          "ResNet50_Weights.SENTINEL2_ALL_DECUR"),
        backbone_params=23_539_392,
        normalization={OPTICAL: Normalization((0.0,) * 13, (10000.0,) * 13,
                                              "Sentinel-2 L1C digital numbers / 10000")},
        paper="https://arxiv.org/abs/2309.05300"),
    ModelSpec(
        key="dofa_large_patch16_224", family="torchgeo",
        library="torchgeo", architecture="dofa_large_patch16_224", input_bands={},
        patch_size=16, default_image_size=224, out_indices=_VIT_L_4, wavelength_aware=True,
        multi_modal=False, task_types=ALL_TASKS, license="CC-BY-4.0",
        weights=_torchgeo("dofa", "b8db318b64a90b9e085ec04ba8851233c5893666",
                          "dofa_large_patch16_224-0ff904d3.pth", "DOFALarge16_Weights.DOFA_MAE"),
        backbone_params=337_103_360, paper="https://arxiv.org/abs/2403.15356",
        notes="Dynamic patch embedding generated from each band's wavelength (µm); any band set."),
    ModelSpec(
        key="satlas_swin_b_sentinel2_si_ms", family="torchgeo",
        library="torchgeo", architecture="swin_v2_b (torchvision), 9 bands",
        input_bands={OPTICAL: bs.SATLAS_S2_MS}, patch_size=None, default_image_size=256,
        out_indices=(0, 1, 2, 3), wavelength_aware=False, multi_modal=False,
        task_types=ALL_TASKS, license="ODC-BY (SatlasPretrain)",
        weights=_torchgeo("satlas", _SATLAS_REV, "sentinel2_swinb_si_ms-fe22a12c.pth",
                          "Swin_V2_B_Weights.SENTINEL2_SI_MS_SATLAS"),
        backbone_params=86_916_088,
        normalization={OPTICAL: Normalization((0.0,) * 9, (255.0,) * 3 + (8160.0,) * 6,
                                              "TCI R,G,B / 255; B05-B12 digital numbers / 8160")},
        paper="https://arxiv.org/abs/2211.15660"),
    ModelSpec(
        key="satlas_swin_b_naip_si_rgb", family="torchgeo",
        library="torchgeo", architecture="swin_v2_b (torchvision), RGB",
        input_bands={OPTICAL: bs.RGB}, patch_size=None, default_image_size=256,
        out_indices=(0, 1, 2, 3), wavelength_aware=False, multi_modal=False,
        task_types=ALL_TASKS, license="ODC-BY (SatlasPretrain)",
        weights=_torchgeo("satlas", _SATLAS_REV, "aerial_swinb_si-e4169eb1.pth",
                          "Swin_V2_B_Weights.NAIP_RGB_SI_SATLAS"),
        backbone_params=86_903_800,
        normalization={OPTICAL: Normalization((0.0,) * 3, (255.0,) * 3, "NAIP 8-bit RGB / 255")},
        paper="https://arxiv.org/abs/2211.15660"),
    ModelSpec(
        key="prithvi_eo_v2_300_tl", family="terratorch",
        library="terratorch", architecture="prithvi_eo_v2_300_tl (ViT-L/16, time+location)",
        input_bands={OPTICAL: bs.HLS_6}, patch_size=16, default_image_size=224,
        out_indices=_VIT_L_4, wavelength_aware=False, multi_modal=False, task_types=ALL_TASKS,
        license="Apache-2.0",
        weights=WeightsSource("ibm-nasa-geospatial/Prithvi-EO-2.0-300M-TL",
                              "Prithvi_EO_V2_300M_TL.pt",
                              library_ref="BACKBONE_REGISTRY 'terratorch_prithvi_eo_v2_300_tl'"),
        backbone_params=303_886_338,
        normalization={OPTICAL: Normalization((1087.0, 1342.0, 1433.0, 2734.0, 1958.0, 1363.0),
                                              (2248.0, 2179.0, 2178.0, 1850.0, 1242.0, 1049.0),
                                              "HLS surface reflectance x 10000")},
        paper="https://arxiv.org/abs/2412.02732"),
    ModelSpec(
        key="prithvi_eo_v2_600_tl", family="terratorch",
        library="terratorch", architecture="prithvi_eo_v2_600_tl (ViT-H/14, time+location)",
        input_bands={OPTICAL: bs.HLS_6}, patch_size=14, default_image_size=224,
        out_indices=(7, 15, 23, 31), wavelength_aware=False, multi_modal=False,
        task_types=ALL_TASKS, license="Apache-2.0",
        weights=WeightsSource("ibm-nasa-geospatial/Prithvi-EO-2.0-600M-TL",
                              "Prithvi_EO_V2_600M_TL.pt",
                              library_ref="BACKBONE_REGISTRY 'terratorch_prithvi_eo_v2_600_tl'"),
        backbone_params=631_188_482,
        normalization={OPTICAL: Normalization((1087.0, 1342.0, 1433.0, 2734.0, 1958.0, 1363.0),
                                              (2248.0, 2179.0, 2178.0, 1850.0, 1242.0, 1049.0),
                                              "HLS surface reflectance x 10000")},
        paper="https://arxiv.org/abs/2412.02732"),
    ModelSpec(
        key="terramind_v1_base", family="terratorch",
        library="terratorch", architecture="terramind_v1_base (ViT-B/16, any-to-any encoder)",
        input_bands={"S2L2A": bs.S2_L2A_12, "S1GRD": bs.S1_GRD, "RGB": bs.RGB}, patch_size=16,
        default_image_size=224, out_indices=_VIT_B_4, wavelength_aware=False, multi_modal=True,
        task_types=ALL_TASKS, license="Apache-2.0",
        weights=WeightsSource("ibm-esa-geospatial/TerraMind-1.0-base", "TerraMind_v1_base.pt",
                              library_ref="BACKBONE_REGISTRY 'terratorch_terramind_v1_base'"),
        backbone_params=87_707_904, normalization=TERRAMIND,
        paper="https://arxiv.org/abs/2504.11171",
        notes="S2 and S1 are separate token sets; their tokens are averaged per patch position. "
              "The RGB tokenizer takes red, green, blue when a protocol rule asks for it."),
    ModelSpec(
        key="terramind_v1_large", family="terratorch",
        library="terratorch", architecture="terramind_v1_large (ViT-L/16, any-to-any encoder)",
        input_bands={"S2L2A": bs.S2_L2A_12, "S1GRD": bs.S1_GRD, "RGB": bs.RGB}, patch_size=16,
        default_image_size=224, out_indices=_VIT_L_4, wavelength_aware=False, multi_modal=True,
        task_types=ALL_TASKS, license="Apache-2.0",
        weights=WeightsSource("ibm-esa-geospatial/TerraMind-1.0-large", "TerraMind_v1_large.pt",
                              library_ref="BACKBONE_REGISTRY 'terratorch_terramind_v1_large'"),
        backbone_params=305_662_976, normalization=TERRAMIND,
        paper="https://arxiv.org/abs/2504.11171",
        notes="S2 and S1 are separate token sets; their tokens are averaged per patch position. "
              "The RGB tokenizer takes red, green, blue when a protocol rule asks for it."),
    ModelSpec(
        key="clay_v1_base", family="terratorch",
        library="terratorch", architecture="clay_v1_base (ViT-B/8, dynamic wavelength embedding)",
        input_bands={}, patch_size=8, default_image_size=256, out_indices=_VIT_B_4,
        wavelength_aware=True, multi_modal=False, task_types=ALL_TASKS, license="Apache-2.0",
        weights=WeightsSource("made-with-clay/Clay-legacy", "v1/clay-v1-base.ckpt",
                              library_ref="BACKBONE_REGISTRY 'timm_clay_v1_base'"),
        backbone_params=92_102_144, paper="https://clay-foundation.github.io/model/",
        notes="Time, lat/lon are zeros and GSD 1.0, terratorch's defaults when none are given."),
    ModelSpec(
        key="smoke", family="smoke", library="timm (geobench)",
        own_display_name="Smoke ResNet (tiny)",
        architecture="timm ResNet, BasicBlock x (1,1,1,1), widths 16-128", input_bands={},
        patch_size=None, default_image_size=32, out_indices=(1, 2, 3, 4), wavelength_aware=False,
        multi_modal=False, task_types=ALL_TASKS, license="Apache-2.0", weights=None,
        backbone_params=352_800, adapts_to_dataset_bands=True,
        notes="Random init only; for capability=smoke and the tests (trains on a CPU in seconds)."),
)

ALIASES: dict[str, str] = {
    "prithvi": "prithvi_eo_v2_300_tl",
    "prithvi_300": "prithvi_eo_v2_300_tl",
    "prithvi_600": "prithvi_eo_v2_600_tl",
    "terramind": "terramind_v1_base",
    "terramind_base": "terramind_v1_base",
    "terramind_large": "terramind_v1_large",
    "clay": "clay_v1_base",
    "dofa": "dofa_large_patch16_224",
    "decur": "ssl4eos12_resnet50_sentinel2_all_decur",
    "satlas_s2": "satlas_swin_b_sentinel2_si_ms",
    "satlas_naip": "satlas_swin_b_naip_si_rgb",
    "convnext_large": "convnext_large_fb_in22k",
    "convnext_xlarge": "convnext_xlarge_fb_in22k",
    "dinov3": "dinov3_vitl16",
    "dinov3_convnext": "dinov3_convnext_large",
}
