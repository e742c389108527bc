"""imtfusion: targeted fusion detection for ALK, ROS1, ETV6 and NTRK3 in RNA-seq BAMs."""

__version__ = "0.1.0"
