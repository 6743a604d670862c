"""storyboard: the film's plan (film, milestones, themes, facts, scenes, shots) and its checker.

`storyboard.models` holds the schema, `storyboard.loader` loads and checks YAML files
(`load_film`, `check_film`, `bundled_film_path`), `storyboard.integrity` the cross-reference rules.
"""
