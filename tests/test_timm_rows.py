"""timm tags as zoo rows (zoo.timm_rows): the snapshot is timm's registry, preprocessing is timm's
own data config, the rule table derives the publishers' facts, and bad tags fail clearly in the
library, in a study config and in ``python -m launch.zoo show``."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import zoo
from launch import zoo as launch_zoo
from launch.study import config as config_lib
from zoo import timm_rows
from test_zoo_timm import timm_python

# (tag, data stages, objective) as the publishers state them (the model cards / papers named in RULES).
FACTS = [
    ("resnet50.a1_in1k", ("imagenet-1k",), "supervised"),  # ResNet strikes back A1 (Wightman et al. 2021)
    ("vit_base_patch16_clip_224.openai_ft_in1k", ("wit-400m", "imagenet-1k"), "contrastive image-text, then fine-tuned"),
    ("convnext_base.clip_laion2b_augreg_ft_in12k_in1k", ("laion-2b", "imagenet-12k", "imagenet-1k"),
     "contrastive image-text, then fine-tuned"),
    ("vit_so400m_patch14_siglip_378.webli_ft_in1k", ("webli", "imagenet-1k"),
     "sigmoid contrastive image-text, then fine-tuned"),
    ("tf_efficientnet_b0.ns_jft_in1k", ("jft-300m", "imagenet-1k"), "semi-supervised (Noisy Student)"),
    ("resnet50.fb_ssl_yfcc100m_ft_in1k", ("yfcc-100m", "imagenet-1k"), "semi-supervised, then fine-tuned"),
    ("resnet50.fb_swsl_ig1b_ft_in1k", ("instagram-1b", "imagenet-1k"), "semi-weakly supervised, then fine-tuned"),
    ("regnety_160.swag_ft_in1k", ("instagram-3.6b", "imagenet-1k"), "weakly supervised, then fine-tuned"),
    ("vit_base_patch16_224.augreg_in21k_ft_in1k", ("imagenet-21k", "imagenet-1k"), "supervised"),
    ("deit_tiny_distilled_patch16_224.fb_in1k", ("imagenet-1k",), "distillation"),
    ("edgenext_small.usi_in1k", ("imagenet-1k",), "distillation (USI)"),  # timm's edgenext.py: USI (arXiv 2204.03475)
    ("convnextv2_tiny.fcmae_ft_in22k_in1k", ("imagenet-21k", "imagenet-1k"), "masked autoencoding (FCMAE), then fine-tuned"),
    ("eva02_large_patch14_448.mim_m38m_ft_in22k_in1k", ("merged-38m", "imagenet-21k", "imagenet-1k"),
     "masked image modelling (EVA), then fine-tuned"),
    ("beitv2_base_patch16_224.in1k_ft_in22k_in1k", ("imagenet-1k", "imagenet-21k", "imagenet-1k"),
     "masked image modelling (BEiT), then fine-tuned"),
    ("tf_efficientnet_b3.ap_in1k", ("imagenet-1k",), "adversarial propagation (AdvProp)"),
    ("inception_v3.tf_adv_in1k", ("imagenet-1k",), "adversarial training"),
    ("resmlp_12_224.fb_dino", ("imagenet-1k",), "self-distillation (DINO)"),
    ("hrnet_w18_ssld.paddle_in1k", ("imagenet-1k",), "distillation (SSLD)"),  # SSLD in the architecture's name
    ("efficientvim_m1_dist.in1k", ("imagenet-1k",), "distillation"),  # timm: EfficientViMDistilled's heads_dist
    ("efficientvim_m1.e450_in1k", ("imagenet-1k",), "supervised"),  # the same model without the distillation head
    ("regnety_320.seer_ft_in1k", ("instagram (uncurated, SEER)", "imagenet-1k"), "self-supervised (SEER), then fine-tuned"),
]


@pytest.mark.parametrize("tag, stages, objective", FACTS, ids=[f[0] for f in FACTS])
def test_rules_derive_the_publishers_facts(tag, stages, objective):
  meta = timm_rows.snapshot()[tag]
  fields = timm_rows.training_fields(meta["architecture"], meta["tag"])
  assert (fields.stages, fields.objective) == (stages, objective)


def test_every_rule_fires_on_some_imagenet_tag():
  """No dead rule: each one sets its field for at least one 1,000-class tag of timm 1.0.31."""
  fired = set()
  for name in timm_rows.imagenet_tags(covered_only=False):
    meta = timm_rows.snapshot()[name]
    fired.update(source for _, _, source in timm_rows.training_fields(meta["architecture"], meta["tag"]).fired)
  assert [r.source for r in timm_rows.RULES if r.source not in fired] == []


@pytest.fixture(scope="module")
def timm_registry(tmp_path_factory):
  """timm's own counts and evaluation data configs (resolve_data_config(use_test_size=True)) of every
  covered 1,000-class tag, from the timm environment."""
  out = tmp_path_factory.mktemp("timm_registry") / "registry.json"
  script = f"""
import json, timm
from timm.data import resolve_data_config
tags = {timm_rows.imagenet_tags()!r}
configs = {{t: resolve_data_config(pretrained_cfg=timm.models.get_pretrained_cfg(t).to_dict(), use_test_size=True)
           for t in tags}}
every = timm.list_pretrained()
imagenet = [t for t in every if timm.models.get_pretrained_cfg(t).num_classes == 1000]
json.dump({{"configs": configs, "count": len(every), "imagenet": len(imagenet)}}, open({str(out)!r}, "w"))
"""
  env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": "", "CUDA_VISIBLE_DEVICES": ""}
  result = subprocess.run([timm_python(), "-c", script], env=env, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  return json.loads(out.read_text())


def test_snapshot_counts_are_timms(timm_registry):
  assert len(timm_rows.snapshot()) == timm_registry["count"] == 1826  # the count for timm 1.0.31
  assert len(timm_rows.imagenet_tags(covered_only=False)) == timm_registry["imagenet"] == 1321


def test_row_preprocessing_is_timms_evaluation_config(timm_registry):
  for tag, cfg in timm_registry["configs"].items():
    prep = timm_rows.row_for_tag(tag).preprocessing
    assert (prep.resolution, prep.crop_fraction, prep.interpolation, prep.crop_mode, prep.mean, prep.std) == (
        cfg["input_size"][-1], cfg["crop_pct"], cfg["interpolation"], cfg["crop_mode"], tuple(cfg["mean"]),
        tuple(cfg["std"])), tag


def test_row_fields_and_builder():
  entry = timm_rows.row_for_tag("timm:resnet50.fb_swsl_ig1b_ft_in1k")
  assert entry.name == "timm:resnet50.fb_swsl_ig1b_ft_in1k" and entry.catalog == "timm"
  assert (entry.weights.kind, entry.weights.location) == ("timm", "timm/resnet50.fb_swsl_ig1b_ft_in1k")
  assert entry.provenance.license == "cc-by-nc-4.0"  # the tag's pretrained_cfg (Facebook's semi-weak weights)
  assert dict(entry.hparams) == {"recipe": "fb_swsl_ig1b_ft_in1k", "fine_tuning": "imagenet-1k"}
  model = zoo.abstract.eval_shape(lambda: entry.builder(None))
  assert model.head.kernel.shape == (2048, 1000)


def test_pair_categories_follow_from_the_rules():
  row = lambda tag: timm_rows.row_for_tag(tag)
  base = row("resnet50.tv_in1k")
  assert zoo.pair_category(base, row("resnet50.a1_in1k")) == "hyper-parameters"
  assert zoo.pair_category(base, row("resnet101.tv_in1k")) == "architecture"
  assert zoo.pair_category(base, row("resnet50.fb_swsl_ig1b_ft_in1k")) == "dataset"
  assert zoo.pair_category(row("tf_efficientnet_b0.in1k"), row("tf_efficientnet_b0.ap_in1k")) == "framework"


def test_bad_tags_are_clear_errors():
  with pytest.raises(timm_rows.TimmTagError, match=r"'resnet50\.nope' is not a pretrained tag.*resnet50\."):
    timm_rows.row_for_tag("resnet50.nope")
  # an uncovered architecture names the nearest covered one (of the same timm file where there is one)
  with pytest.raises(timm_rows.TimmTagError, match=r"resnet50_gn.*not covered.*nearest covered "
                                                   r"family is timm's resnet \(resnet50, pattern"):
    timm_rows.row_for_tag("timm:resnet50_gn.a1h_in1k")
  with pytest.raises(timm_rows.TimmTagError, match="'legacy_seresnet50.in1k' has no Hub copy"):
    timm_rows.row_for_tag("legacy_seresnet50.in1k")  # timm 1.0.31 lists only Cadene's .pth url for it
  with pytest.raises(timm_rows.TimmTagError, match="matches no 1,000-class tag"):
    timm_rows.expand(["timm:no_such_net*"])


def test_globs_expand_over_covered_imagenet_tags():
  names = timm_rows.expand(["timm:resnet50.*", "timm:resnet50.a1_in1k"])
  assert "timm:resnet50.a1_in1k" in names and "timm:resnet50.tv_in1k" in names and len(set(names)) == len(names)
  assert all(timm_rows.snapshot()[n[5:]]["num_classes"] == 1000 and n.startswith("timm:resnet50.") for n in names)
  assert "timm:resnet50_clip.openai" not in names  # not a 1,000-class classifier


def test_study_config_makes_timm_rows():
  config = config_lib.merge({"models": "timm:resnet50.a1_in1k,timm:tf_efficientnet_b0.*", "catalog": "paper",
                             "base": "timm:resnet50.a1_in1k"})
  names = config_lib.resolve_models(config)
  assert names[0] == "timm:resnet50.a1_in1k" and "timm:tf_efficientnet_b0.ns_jft_in1k" in names
  assert zoo.get("timm:tf_efficientnet_b0.ns_jft_in1k").pretraining_data == "jft-300m"
  config.models = "timm:resnet50_gn.a1h_in1k"
  with pytest.raises(config_lib.ConfigError, match=r"'models'.*resnet50_gn.*nearest covered family"):
    config_lib.resolve_models(config)


def test_timm_world_config_resolves_every_covered_tag():
  config, _ = config_lib.load("timm_world:base=timm:resnet50.a1_in1k")
  names = config_lib.resolve_models(config)
  assert names[0] == "timm:resnet50.a1_in1k"
  assert sorted(names) == sorted(timm_rows.PREFIX + t for t in timm_rows.imagenet_tags())
  assert not config.sections.similarity.enabled and not config.sections.downstream.dataset


def test_timm_world_config_reads_the_coverage_csv(tmp_path):
  (tmp_path / "coverage.csv").write_text("tag,status\nresnet50.a1_in1k,covered\nresnet18.tv_in1k,parity\n")
  config, _ = config_lib.load(f"timm_world:base=timm:resnet50.tv_in1k,coverage={tmp_path / 'coverage.csv'}")
  assert config_lib.resolve_models(config) == ["timm:resnet50.tv_in1k", "timm:resnet50.a1_in1k"]


def test_launch_zoo_show(capsys):
  assert launch_zoo.show("timm:tf_efficientnet_b3.ap_in1k") == 0
  out = capsys.readouterr().out
  assert "objective: adversarial propagation (AdvProp)" in out and "timm tag ap: AdvProp" in out
  assert "300 px, crop 0.904" in out  # the tag's pretrained_cfg
  assert launch_zoo.show("timm:resnet50_gn.a1h_in1k") == 2
  assert "nearest covered family" in capsys.readouterr().err
