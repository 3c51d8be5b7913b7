"""Built-in study configs (``python -m launch.study --config=launch/study/configs/NAME.py:ARG``); copy one to start your own."""
