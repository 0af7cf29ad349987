"""The test suite (a package, so that every module imports ``tests.helpers``)."""
