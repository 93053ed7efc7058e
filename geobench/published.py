"""Facts of the published GEO-Bench-2 leaderboard that geobench shows and checks against, in one place.

Display names and sizes of the backbones already on the leaderboard, from its model_info.json
(The-AI-Alliance/GEO-Bench-2-Leaderboard, utils/model_info.json, commit 1659ccf, Apache-2.0). The
model catalogue, the submission schema and the leaderboard's model table all read this table.
"""

from __future__ import annotations

PUBLISHED_MODELS: dict[str, tuple[str, str]] = {
    "vit_large_patch16": ("ScaleMAE-ViT 300M", "300M"),
    "resnet101": ("Resnet101", "42M"),
    "prithvi_vit_100": ("Prithvi-EO-V1-100", "100M"),
    "prithvi_eo_v2_100": ("Prithvi-EO-V2-100", "100M"),
    "resnet50": ("Resnet50-ImageNet", "25M"),
    "dofa_base_patch16_224": ("DOFA-ViT-B", "100M"),
    "dofa_large_patch16_224": ("DOFA-ViT 300M", "300M"),
    "clay_v1_base": ("Clay-V1 ViT-B", "100M"),
    "prithvi_eo_v2_300": ("Prithvi-EO-V2 300M", "300M"),
    "prithvi_eo_v2_300_tl": ("Prithvi-EO-V2 300M TL", "300M"),
    "prithvi_eo_v2_600": ("Prithvi-EO-V2 600M", "600M"),
    "prithvi_eo_v2_600_tl": ("Prithvi-EO-V2 600M TL", "600M"),
    "satlas_swin_b_sentinel2_si_ms": ("Satlas-Swin 100M", "100M"),
    "ssl4eos12_resnet50_sentinel2_all_dino": ("Resnet50-DINO", "25M"),
    "ssl4eos12_resnet50_sentinel2_all_moco": ("Resnet50-MOCO", "25M"),
    "ssl4eos12_resnet50_sentinel2_all_decur": ("Resnet50-DeCUR", "25M"),
    "satlas_resnet50_sentinel2_si_ms_satlas": ("Satlas-Resnet50", "25M"),
    "terramind_v1_base": ("TerraMind-V1-Base", "100M"),
    "terramind_v1_large": ("TerraMind-V1-Large", "300M"),
    "convnext_xlarge_fb_in22k": ("ConvNext-XLarge-ImageNet", "390M"),
    "convnext_large_fb_in22k": ("ConvNext-Large-ImageNet", "230M"),
    "dinov3_vitl16": ("DinoV3-ViT-L-SAT", "300M"),
    "dinov3_convnext_large": ("DinoV3-ConvNext-Large-WEB", "230M"),
    "satlas_swin_b_naip_si_rgb": ("Satlas-SwinB-Naip", "100M"),
}
