"""Files (save/load), NIR and Neo/NWB."""
