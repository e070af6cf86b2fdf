"""dysen plugin backbone_vdm: hook implementations only; components live in sibling modules."""
