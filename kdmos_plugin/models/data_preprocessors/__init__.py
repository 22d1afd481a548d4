from .mos_data_preprocessor import MOSDataPreprocessor

__all__ = ['MOSDataPreprocessor']
