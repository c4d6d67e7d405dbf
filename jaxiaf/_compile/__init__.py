"""The persistent compilation cache and the progress bar."""
