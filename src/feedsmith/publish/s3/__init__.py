"""publish.s3"""
