//! Nothing here: the model checks are in `tests/`, each including one of
//! chanos's protocol files by path.
