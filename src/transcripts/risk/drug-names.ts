/**
 * Drug names flagged for review: a small curated starting list, lower case.
 *
 * Source: International Nonproprietary Names (INN) chosen from the WHO Model List of Essential
 * Medicines, 23rd list (2023), https://www.who.int/publications/i/item/WHO-MHP-HPS-EML-2023.02, plus
 * a few widely prescribed medicines outside it (statins, DOACs, PPIs, SSRIs, gliptins, sartans) that
 * come up in primary care and cardiology dictation. INNs are public non-proprietary names published by
 * the WHO for free use (World Health Assembly resolution WHA46.19); this selection was compiled for this
 * repository and is under the repository's licence. Brand names are deliberately absent (trademarks).
 *
 * Why these: a wrong drug name is the error that harms most (an audit of 20 clinical scribes in May
 * 2026 found 12 got drug information wrong). Extend per specialty through the custom vocabulary.
 */
export const DRUG_NAMES: ReadonlySet<string> = new Set([
  // cardiovascular
  'amlodipine', 'atenolol', 'bisoprolol', 'carvedilol', 'metoprolol', 'propranolol', 'enalapril', 'lisinopril', 'ramipril',
  'perindopril', 'losartan', 'valsartan', 'candesartan', 'irbesartan', 'telmisartan', 'hydrochlorothiazide', 'chlorthalidone',
  'indapamide', 'furosemide', 'bumetanide', 'spironolactone', 'eplerenone', 'digoxin', 'amiodarone', 'verapamil', 'diltiazem',
  'nifedipine', 'hydralazine', 'isosorbide', 'nitroglycerin', 'glyceryl', 'atorvastatin', 'simvastatin', 'rosuvastatin',
  'pravastatin', 'ezetimibe', 'aspirin', 'clopidogrel', 'ticagrelor', 'prasugrel', 'warfarin', 'heparin', 'enoxaparin',
  'apixaban', 'rivaroxaban', 'dabigatran', 'edoxaban', 'sacubitril', 'ivabradine',
  // diabetes and endocrine
  'metformin', 'insulin', 'glargine', 'glibenclamide', 'gliclazide', 'glipizide', 'sitagliptin', 'linagliptin',
  'empagliflozin', 'dapagliflozin', 'canagliflozin', 'liraglutide', 'semaglutide', 'dulaglutide', 'pioglitazone',
  'levothyroxine', 'carbimazole', 'methimazole', 'propylthiouracil', 'hydrocortisone', 'prednisolone', 'prednisone',
  'dexamethasone', 'methylprednisolone', 'fludrocortisone',
  // anti-infectives
  'amoxicillin', 'ampicillin', 'penicillin', 'benzylpenicillin', 'flucloxacillin', 'cloxacillin', 'cefalexin', 'cephalexin',
  'ceftriaxone', 'cefuroxime', 'cefixime', 'azithromycin', 'clarithromycin', 'erythromycin', 'doxycycline', 'ciprofloxacin',
  'levofloxacin', 'moxifloxacin', 'nitrofurantoin', 'trimethoprim', 'sulfamethoxazole', 'metronidazole', 'clindamycin',
  'vancomycin', 'gentamicin', 'amikacin', 'meropenem', 'piperacillin', 'tazobactam', 'linezolid', 'rifampicin', 'isoniazid',
  'pyrazinamide', 'ethambutol', 'fluconazole', 'nystatin', 'acyclovir', 'aciclovir', 'valaciclovir', 'oseltamivir',
  'tenofovir', 'lamivudine', 'dolutegravir', 'efavirenz', 'zidovudine', 'artemether', 'lumefantrine', 'chloroquine',
  'hydroxychloroquine', 'ivermectin', 'albendazole', 'mebendazole',
  // analgesia, anaesthesia
  'paracetamol', 'acetaminophen', 'ibuprofen', 'naproxen', 'diclofenac', 'celecoxib', 'morphine', 'codeine', 'tramadol',
  'oxycodone', 'fentanyl', 'hydromorphone', 'methadone', 'buprenorphine', 'naloxone', 'ketamine', 'lidocaine', 'lignocaine',
  'bupivacaine', 'propofol', 'midazolam',
  // respiratory, gastro, allergy
  'salbutamol', 'albuterol', 'ipratropium', 'tiotropium', 'budesonide', 'fluticasone', 'beclometasone', 'formoterol',
  'salmeterol', 'montelukast', 'omeprazole', 'esomeprazole', 'pantoprazole', 'lansoprazole', 'ranitidine', 'famotidine',
  'ondansetron', 'metoclopramide', 'domperidone', 'loperamide', 'lactulose', 'senna', 'cetirizine', 'loratadine',
  'chlorphenamine', 'epinephrine', 'adrenaline',
  // neurology and mental health
  'sertraline', 'fluoxetine', 'citalopram', 'escitalopram', 'paroxetine', 'venlafaxine', 'duloxetine', 'mirtazapine',
  'amitriptyline', 'nortriptyline', 'lithium', 'valproate', 'valproic', 'carbamazepine', 'lamotrigine', 'levetiracetam',
  'phenytoin', 'gabapentin', 'pregabalin', 'diazepam', 'lorazepam', 'clonazepam', 'haloperidol', 'olanzapine',
  'quetiapine', 'risperidone', 'aripiprazole', 'clozapine', 'levodopa', 'carbidopa', 'donepezil', 'sumatriptan',
  // urology, oncology, other high-alert
  'tamsulosin', 'finasteride', 'oxybutynin', 'sildenafil', 'methotrexate', 'tamoxifen', 'letrozole', 'anastrozole',
  'cyclophosphamide', 'cisplatin', 'carboplatin', 'paclitaxel', 'doxorubicin', 'allopurinol', 'colchicine', 'alendronate',
  'potassium', 'magnesium', 'calcium', 'ferrous', 'folic', 'cyanocobalamin', 'vitamin', 'oxytocin', 'misoprostol',
  'azathioprine', 'tacrolimus', 'ciclosporin', 'cyclosporine', 'mycophenolate',
]);
