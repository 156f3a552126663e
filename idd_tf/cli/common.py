"""What more than one tool does with its flags."""


def resolve_config(config_type, presets: dict, preset: str, run_dir, fresh_changes: dict, resume_changes: dict,
                   overrides: list[str]):
    """The config a training run goes with (train.py, train_stylegan.py).

    Resuming (`run_dir`, a run's folder holding config.json): that config, changed by
    `resume_changes` and then the `--set` `overrides` (e.g. lower rates after a divergence; written
    to the run's config.json by the tool), refused by `configs.check_resume` where a change would
    not continue the same run. A new run (`run_dir` None): `presets[preset]` changed by the flags
    given (`fresh_changes`, config field -> flag value; None: not given) and then `overrides`.
    Raises ConfigError (a UserError), FileNotFoundError, ValueError or KeyError."""
    from idd_tf.utils import configs
    if run_dir:
        config = config_type.from_run_dir(run_dir)
        resumed = config.replace(**{**resume_changes, **configs.parse_overrides(overrides)})
        configs.check_resume(config, resumed)
        return resumed
    changes = {key: value for key, value in fresh_changes.items() if value is not None}
    changes.update(configs.parse_overrides(overrides))
    return presets[preset].replace(**changes)
